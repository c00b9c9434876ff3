import { useEffect, useRef } from 'react';
import { useTranslation } from 'react-i18next';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { LEVELS, type HistoryPoint } from '../api';

const COLORS: Record<(typeof LEVELS)[number], string> = {
  critical: '#7a0019',
  high: '#c62828',
  medium: '#e65100',
  low: '#8d6e00',
  negligible: '#2e7d32',
  unknown: '#546e7a',
};

/** Score (right axis) and counts per level (left axis) over time, oldest first. */
export function HistoryChart({ points }: { points: HistoryPoint[] }) {
  const { t, i18n } = useTranslation();
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || points.length === 0) return;
    const xs = points.map((p) => Date.parse(p.at) / 1000);
    const data: uPlot.AlignedData = [xs, points.map((p) => p.score), ...LEVELS.map((l) => points.map((p) => p[l]))];
    const plot = new uPlot(
      {
        width: Math.max(320, el.clientWidth),
        height: 260,
        scales: { score: { range: (_u, _min, max) => [0, Math.max(max ?? 0, 0.01)] } },
        series: [
          {},
          {
            label: t('field.score'),
            scale: 'score',
            stroke: '#1a237e',
            width: 2,
            value: (_u, v) => (v == null ? '—' : v.toFixed(4)),
          },
          ...LEVELS.map((l) => ({ label: t(`level.${l}`), stroke: COLORS[l], width: 1.5 })),
        ],
        axes: [
          {},
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
