// The API server's own OpenAPI v3 documents (/openapi/v3, served to the page by the
// dashboard under /ui/openapi/v3), loaded on demand, answer "what fields can go here".

const base = "/ui/openapi/v3";
let index = null;
const docs = new Map();

async function getJSON(url) {
  const res = await fetch(url, { credentials: "same-origin" });
  if (!res.ok) throw new Error(url + ": " + res.status);
  return res.json();
}

// groupPath maps an apiVersion to its document: v1 → api/v1, apps/v1 → apis/apps/v1.
function groupPath(apiVersion) {
  return apiVersion.includes("/") ? "apis/" + apiVersion : "api/" + apiVersion;
}

async function loadIndex() {
  if (!index) index = getJSON(base).then((j) => j.paths || {});
  return index;
}

async function loadDoc(apiVersion) {
  const p = groupPath(apiVersion);
  if (!docs.has(p)) {
    docs.set(
      p,
      loadIndex().then((paths) => {
        const ref = paths[p];
        if (!ref) return null;
        return getJSON(base + "/" + p + (ref.serverRelativeURL.includes("?") ? "?" + ref.serverRelativeURL.split("?")[1] : ""));
      })
    );
  }
  return docs.get(p);
}

// Schemas of one document, with $ref and allOf resolved one level at a time.
export class Schemas {
  constructor(doc) {
    this.all = (doc && doc.components && doc.components.schemas) || {};
  }
  resolve(s) {
    for (let i = 0; s && i < 20; i++) {
      if (s.$ref) s = Object.assign({}, this.all[s.$ref.replace("#/components/schemas/", "")], s.description ? { description: s.description } : {});
      else if (s.allOf && s.allOf.length) s = Object.assign({}, this.resolve(s.allOf[0]), s.description ? { description: s.description } : {});
      else break;
    }
    return s || null;
  }
  kind(apiVersion, kind) {
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
    for (const s of Object.values(this.all)) {
      const g = s["x-kubernetes-group-version-kind"];
      if (g && g.some((x) => x.kind === kind && x.version === version && (x.group || "") === group)) return s;
    }
    return null;
  }
  // at walks a path (keys and "[]") down from a root schema.
  at(root, path) {
    let s = this.resolve(root);
    for (const p of path) {
      if (!s) return null;
      if (p === "[]") s = s.type === "array" ? this.resolve(s.items) : null;
      else if (s.properties && s.properties[p]) s = this.resolve(s.properties[p]);
      else if (s.additionalProperties && typeof s.additionalProperties === "object") s = this.resolve(s.additionalProperties);
      else return null;
    }
    return s;
  }
}

// forKind returns the schemas and the root schema of apiVersion/kind, or null.
export async function forKind(apiVersion, kind) {
  if (!apiVersion || !kind) return null;
  let doc;
  try {
    doc = await loadDoc(apiVersion);
  } catch (e) {
    return null;
  }
  if (!doc) return null;
  const s = new Schemas(doc);
  const root = s.kind(apiVersion, kind);
  return root ? { schemas: s, root } : null;
}

// kinds lists apiVersion/kind pairs the server knows, for completing kind: and apiVersion:.
export async function kinds() {
  const paths = await loadIndex();
  const out = [];
  await Promise.all(
    Object.keys(paths).map(async (p) => {
      const av = p.replace(/^apis?\//, "");
      const doc = await loadDoc(av).catch(() => null);
      const s = new Schemas(doc);
      for (const sc of Object.values(s.all)) {
        for (const g of sc["x-kubernetes-group-version-kind"] || []) out.push({ apiVersion: av, kind: g.kind });
      }
    })
  );
  return out.sort((a, b) => a.kind.localeCompare(b.kind));
}

// typeName says what a schema holds in a few words: "[]Container", "map[string]string".
export function typeName(schemas, raw) {
  const name = (s) => {
    if (!s) return "";
    if (s.$ref) return s.$ref.split(".").pop();
    if (s.allOf) return name(s.allOf[0]);
    if (s.type === "array") return "[]" + name(s.items);
    if (s.type === "object" && s.additionalProperties) return "map[string]" + name(s.additionalProperties);
    if (s["x-kubernetes-int-or-string"]) return "int or string";
    return s.type || "object";
  };
  return name(raw);
}
