// The module a tinypool worker thread loads (its `filename`). From the compiled package that is the .js file
// itself. Run from TypeScript sources (tests, `npm run cli`), a worker must register tsx's loader in its own
// thread first: Node 20 passes neither the parent's --import hooks nor an --import in execArgv to worker
// threads. Then the module is a data: URL that registers tsx and re-exports the source module's default export.

/** `url`: the worker module next to the caller (`.ts` from sources, `.js` compiled). */
export function workerModule(url: URL): string {
  if (!url.pathname.endsWith(".ts")) return url.href;
  const tsx = import.meta.resolve("tsx/esm/api");
  const boot =
    `const api = await import(${JSON.stringify(tsx)}); api.register(); ` +
    `const source = await import(${JSON.stringify(url.href)}); export default source.default;`;
  return `data:text/javascript,${encodeURIComponent(boot)}`;
}
