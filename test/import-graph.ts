// The import graph of src/, read from the source text: static `import ... from "x"`, `export ... from "x"`,
// side-effect `import "x"` and `import("x")` with a string literal (type-only imports included: they are
// edges a reader follows too). Relative specifiers resolve to the .ts file beside them ("./a.js" -> a.ts).
// test/imports.test.ts checks it has no cycles; a small walker, so no dependency is needed for it.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const PATTERNS = [
  /^\s*(?:import|export)\s[^;]*?\sfrom\s*["']([^"']+)["']/gms,
  /^\s*import\s*["']([^"']+)["']/gm,
  /\bimport\(\s*["']([^"']+)["']\s*\)/g,
];

/** Every module specifier in a source text, in no particular order, once each. */
export function specifiersOf(text: string): string[] {
  return [...new Set(PATTERNS.flatMap((p) => [...text.matchAll(p)].map((m) => m[1])))];
}

/** The .ts file a relative specifier names, or null when there is none. */
export function resolveSpecifier(fromFile: string, spec: string): string | null {
  const base = join(dirname(fromFile), spec);
  for (const candidate of [base.replace(/\.js$/, ".ts"), base, join(base, "index.ts")]) if (candidate.endsWith(".ts") && existsSync(candidate)) return candidate;
  return null;
}

export interface ImportGraph {
  /** Absolute path of each .ts file -> the .ts files it imports. */
  edges: Map<string, string[]>;
  /** Package specifiers (not relative) each file imports. */
  packages: Map<string, string[]>;
  /** "file imports spec" for relative specifiers that name no .ts file. */
  unresolved: string[];
}

/** The graph of every .ts file under `root` (declaration files aside). */
export function importGraph(root: string): ImportGraph {
  const files = readdirSync(root, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .map((f) => resolve(root, f))
    .sort();
  const graph: ImportGraph = { edges: new Map(), packages: new Map(), unresolved: [] };
  for (const file of files) {
    const deps: string[] = [];
    const packages: string[] = [];
    for (const spec of specifiersOf(readFileSync(file, "utf8"))) {
      if (!spec.startsWith(".")) {
        packages.push(spec);
        continue;
      }
      const target = resolveSpecifier(file, spec);
      if (target) deps.push(target);
      else graph.unresolved.push(`${relative(root, file)} imports ${spec}`);
    }
    graph.edges.set(file, [...new Set(deps)].sort());
    graph.packages.set(file, packages);
  }
  return graph;
}

/**
 * The cycles of a directed graph: one per strongly connected component that has one (Tarjan), each
 * given as a path that starts and ends at the same node ("a -> b -> a"). Empty when the graph is acyclic.
 */
export function findCycles<T>(edges: Map<T, readonly T[]>): T[][] {
  const index = new Map<T, number>();
  const low = new Map<T, number>();
  const stack: T[] = [];
  const onStack = new Set<T>();
  const components: T[][] = [];
  let next = 0;
  const visit = (v: T) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: T[] = [];
      let w: T;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (edges.get(v) ?? []).includes(v)) components.push(component);
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  // Within each component, a shortest way from its first node back to itself (breadth-first).
  return components.map((component) => {
    const members = new Set(component);
    const start = component[component.length - 1];
    const from = new Map<T, T>();
    const queue: T[] = [start];
    while (queue.length) {
      const v = queue.shift()!;
      for (const w of edges.get(v) ?? []) {
        if (!members.has(w)) continue;
        if (w === start) {
          const path = [start];
          for (let x: T | undefined = v; x !== undefined && x !== start; x = from.get(x)) path.splice(1, 0, x);
          return [...path, start];
        }
        if (!from.has(w)) {
          from.set(w, v);
          queue.push(w);
        }
      }
    }
    return [start, start];
  });
}

/** The graph between folders: an edge wherever a file in one imports a file in another (the file edges behind each kept). */
export function folderGraph(graph: ImportGraph, root: string): { edges: Map<string, string[]>; because: Map<string, string[]> } {
  const folder = (file: string) => relative(root, dirname(file)) || ".";
  const edges = new Map<string, Set<string>>();
  const because = new Map<string, string[]>();
  for (const [file, deps] of graph.edges) {
    const a = folder(file);
    if (!edges.has(a)) edges.set(a, new Set());
    for (const dep of deps) {
      const b = folder(dep);
      if (a === b) continue;
      edges.get(a)!.add(b);
      const key = `${a} -> ${b}`;
      if (!because.has(key)) because.set(key, []);
      because.get(key)!.push(`${relative(root, file)} -> ${relative(root, dep)}`);
    }
  }
  return { edges: new Map([...edges].map(([k, v]) => [k, [...v].sort()])), because };
}
