// check.mjs parses Mermaid files with the real Mermaid parser (in jsdom)
// and, when FILE.json (the view model) sits beside FILE.mermaid, checks
// that the flowchart has exactly its number of nodes and edges.
// Usage: node check.mjs FILE.mermaid...   (make check-mermaid)
import fs from 'node:fs';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!DOCTYPE html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false });

let failed = 0;
for (const file of process.argv.slice(2)) {
  const text = fs.readFileSync(file, 'utf8');
  try {
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    const vertices = diagram.db.getVertices();
    const nodes = vertices instanceof Map ? vertices.size : Object.keys(vertices).length;
    const edges = diagram.db.getEdges().length;
    const view = file.replace(/\.mermaid$/, '.json');
    if (fs.existsSync(view)) {
      const g = JSON.parse(fs.readFileSync(view, 'utf8'));
      if (g.nodes.length !== nodes || g.edges.length !== edges) {
        throw new Error(`${nodes} nodes and ${edges} edges, the view has ${g.nodes.length} and ${g.edges.length}`);
      }
    }
    console.log(`ok   ${file}: ${nodes} nodes, ${edges} edges`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${file}: ${String(err.message || err).slice(0, 400)}`);
  }
}
console.log(`${process.argv.length - 2 - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
