// Where the cursor is in a Kubernetes YAML document, worked out from indentation alone:
// the editor asks this on every keystroke, when the text is often not valid YAML yet.

const keyRe = /^(\s*)(- +)?([A-Za-z0-9_.\/-]*)(:?)(.*)$/;

// lineInfo splits one line into its indent, list dash, key and the rest.
export function lineInfo(text) {
  const m = keyRe.exec(text);
  const blank = /^\s*(#.*)?$/.test(text);
  if (!m || blank) return { blank: true };
  const dashAt = m[2] ? m[1].length : -1;
  const keyAt = m[1].length + (m[2] ? m[2].length : 0);
  return { blank: false, dashAt, keyAt, key: m[3], colon: m[4] === ":", rest: m[5] };
}

// docBounds returns the [first, last] line numbers (0-based) of the document holding line.
export function docBounds(lines, line) {
  let first = 0;
  let last = lines.length - 1;
  for (let i = line; i >= 0; i--) {
    if (/^---/.test(lines[i]) && i !== line) {
      first = i + 1;
      break;
    }
  }
  for (let i = line + 1; i < lines.length; i++) {
    if (/^---/.test(lines[i])) {
      last = i - 1;
      break;
    }
  }
  return [first, last];
}

// pathAt is the path of the mapping that a key written at column col of line belongs to,
// e.g. ["spec", "containers", "[]"] for a key under a container.
export function pathAt(lines, line, col) {
  const [first] = docBounds(lines, line);
  const path = [];
  let ind = col;
  // Right after a list item, its parent key may sit at the dash's column ("containers:\n- name").
  let afterDash = false;
  const cur = lineInfo(lines[line] || "");
  if (!cur.blank && cur.dashAt >= 0 && cur.dashAt < col) {
    path.unshift("[]");
    ind = cur.dashAt;
    afterDash = true;
  }
  for (let i = line - 1; i >= first && ind > 0; i--) {
    const li = lineInfo(lines[i]);
    if (li.blank) continue;
    if (li.dashAt >= 0 && li.dashAt < ind) {
      path.unshift("[]");
      ind = li.dashAt;
      afterDash = true;
      continue;
    }
    if (li.colon && li.dashAt < 0 && (li.keyAt < ind || (afterDash && li.keyAt === ind))) {
      path.unshift(li.key);
      ind = li.keyAt;
      afterDash = false;
    }
  }
  return path;
}

// topLevel reads apiVersion and kind of the document holding line.
export function topLevel(lines, line) {
  const [first, last] = docBounds(lines, line);
  const out = {};
  for (let i = first; i <= last; i++) {
    const m = /^(apiVersion|kind):\s*["']?([^"'#\s]+)/.exec(lines[i]);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

// keyLines lists every key of lines first..last with the path of its parent mapping.
export function keyLines(lines, first, last) {
  const out = [];
  for (let i = first; i <= last; i++) {
    const li = lineInfo(lines[i]);
    if (li.blank || !li.colon || li.key === "") continue;
    out.push({ line: i, col: li.keyAt, key: li.key, parent: pathAt(lines, i, li.keyAt), rest: li.rest });
    // A block scalar (key: |) owns the more-indented lines below it.
    if (/^\s*[|>][-+0-9]*\s*(#.*)?$/.test(li.rest)) {
      while (i + 1 <= last && (/^\s*$/.test(lines[i + 1]) || indentOf(lines[i + 1]) > li.keyAt)) i++;
    }
  }
  return out;
}

function indentOf(s) {
  return /^\s*/.exec(s)[0].length;
}
