import { chunk, FERRETDB_MAX_STATEMENTS, isFerretBuildInfo, serverInfoOf } from '../../../src/db/batch';

describe('serverInfoOf', () => {
  it('When buildInfo carries ferretdbVersion, then it is FerretDB, capped under 50 statements, without update pipelines', () => {
    const info = serverInfoOf({ version: '7.0.77', ferretdbVersion: 'v1.24.2', ferretdbFeatures: {} });
    expect(info.ferretdb).toBe(true);
    expect(info.maxStatements).toBe(FERRETDB_MAX_STATEMENTS);
    expect(info.maxStatements).toBeLessThan(50);
    expect(info.updatePipelines).toBe(false);
  });

  it('When buildInfo is a MongoDB 7 reply, then large batches and update pipelines are used', () => {
    const info = serverInfoOf({ version: '7.0.14', gitVersion: 'abc', modules: [] });
    expect(info.ferretdb).toBe(false);
    expect(info.maxStatements).toBeGreaterThanOrEqual(500);
    expect(info.updatePipelines).toBe(true);
  });

  it('When MongoDB is older than 4.2, then update pipelines are not used', () => {
    expect(serverInfoOf({ version: '4.0.28' }).updatePipelines).toBe(false);
    expect(serverInfoOf({ version: '4.2.0' }).updatePipelines).toBe(true);
  });

  it('When a key merely mentions ferret elsewhere, then only a ferretdb* key counts', () => {
    expect(isFerretBuildInfo({ version: '7.0.1', modules: ['ferret'] })).toBe(false);
    expect(isFerretBuildInfo({ FerretDB: true })).toBe(true);
  });
});

describe('chunk', () => {
  it('When 101 items are cut by 25, then 5 slices keep every item in order', () => {
    const items = Array.from({ length: 101 }, (_, i) => i);
    const out = chunk(items, 25);
    expect(out.map((c) => c.length)).toEqual([25, 25, 25, 25, 1]);
    expect(out.flat()).toEqual(items);
  });
});
