// Command ferretdb runs FerretDB 1.x (SQLite backend) as a MongoDB-compatible server for
// development and tests. It wraps the embeddable package because `go install` of upstream's
// cmd/ferretdb panics at start (build/version/version.txt is not in the published module).
//
// Usage: ferretdb -listen 127.0.0.1:27017 -data ./data/ferretdb [-postgresql-url postgres://127.0.0.1:5432/db]
// Prints "READY mongodb://..." on stdout once it accepts connections; stops on SIGINT/SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on (port 0 picks a free one)")
	data := flag.String("data", "./data/ferretdb", "directory holding the SQLite databases")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	pgURL := flag.String("postgresql-url", "", "use the PostgreSQL backend at this URL instead of SQLite (e.g. postgres://127.0.0.1:5432/ferretdb)")
	flag.Parse()

	dir, err := filepath.Abs(*data)
	if err != nil {
		fail(err)
	}
	// FerretDB's SQLite backend needs the directory to exist and the URL to end with '/'.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail(err)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fail(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg := &ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + strings.TrimSuffix(dir, "/") + "/",
	}
	if *pgURL != "" {
		cfg.Handler = "postgresql"
		cfg.PostgreSQLURL = *pgURL
		cfg.SQLiteURL = ""
	}
	f, err := ferretdb.New(cfg)
	if err != nil {
		fail(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	done := make(chan struct{})
	go func() {
		_ = f.Run(ctx)
		close(done)
	}()

	// MongoDBURI blocks until the listener is bound.
	uriCh := make(chan string, 1)
	go func() { uriCh <- f.MongoDBURI() }()
	select {
	case uri := <-uriCh:
		fmt.Printf("READY %s\n", uri)
	case <-time.After(30 * time.Second):
		fail(fmt.Errorf("listener did not start within 30s"))
	case <-done:
		fail(fmt.Errorf("ferretdb stopped before listening"))
	}

	<-done
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
	os.Exit(1)
}
