import { useEffect, useRef } from 'react';
import { useTranslation } from 'react-i18next';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { LEVELS, type HistoryPoint } from '../api';

const COLORS: Record<(typeof LEVELS)[number], string> = {
  critical: '#7a0019',
  high: '#b3261e',
  medium: '#a84300',
  low: '#6b5800',
  negligible: '#1e6b2a',
  unknown: '#4a5a63',
};

/** Score (right axis) and counts per level (left axis) over time, oldest first. */
export function HistoryChart({ points }: { points: HistoryPoint[] }) {
  const { t, i18n } = useTranslation();
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || points.length === 0) return;
    const locale = i18n.language === 'zh' ? 'zh-CN' : 'en';
    const xs = points.map((p) => Date.parse(p.at) / 1000);
    const lo = Math.min(...xs);
    const hi = Math.max(...xs);
    const data: uPlot.AlignedData = [xs, points.map((p) => p.score), ...LEVELS.map((l) => points.map((p) => p[l]))];
    const plot = new uPlot(
      {
        width: Math.max(320, el.clientWidth),
        height: 260,
        scales: {
          // One point would stretch the time axis over years: give it a day on each side.
          x: { time: true, auto: false, range: [lo === hi ? lo - 86_400 : lo, lo === hi ? hi + 86_400 : hi] },
          score: { range: (_u, _min, max) => [0, Math.max(max ?? 0, 0.01)] },
        },
        series: [
          {
            label: t('history.time'),
            value: (_u, v) =>
              v == null ? '—' : new Date(v * 1000).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' }),
          },
          {
            label: t('field.score'),
            scale: 'score',
            stroke: '#1a237e',
            width: 2,
            points: { size: 7 },
            value: (_u, v) => (v == null ? '—' : v.toFixed(4)),
          },
          ...LEVELS.map((l) => ({ label: t(`level.${l}`), stroke: COLORS[l], width: 1.5 })),
        ],
        axes: [
          {
            // uPlot's own date labels are English: dates follow the console's language instead.
            values: (_u, splits) =>
              splits.map((v) =>
                new Date(v * 1000).toLocaleString(
                  locale,
                  // Within three days the hour matters; beyond, the day is enough.
                  hi - lo < 3 * 86_400
                    ? { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }
                    : { month: 'short', day: 'numeric' },
                ),
              ),
          },
          { label: t('history.count') },
          { scale: 'score', side: 1, label: t('field.score'), grid: { show: false } },
        ],
      },
      data,
      el,
    );
    const onResize = () => plot.setSize({ width: Math.max(320, el.clientWidth), height: 260 });
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('resize', onResize);
      plot.destroy();
    };
  }, [points, t, i18n.language]);
  return <div ref={box} className="chart" role="img" aria-label={t('history.aria', { n: points.length })} />;
}
