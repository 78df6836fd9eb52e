// A small Markdown subset for the model card, built as DOM nodes. Card text only ever enters the page as
// text nodes (append(string), textContent), never as markup, and a link is kept only when its address is
// an absolute http(s) URL: no script in a card can run, whatever it contains.
//
// Blocks: ATX headings, paragraphs (hard-wrapped lines are joined), bullet and numbered lists (nesting by
// indentation), pipe tables, fenced code, block quotes, rules. Inline: `code`, **strong**, *em* and _em_,
// [text](http(s) URL), <http(s) URL>, backslash escapes.

const LIST_ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])[ \t]+(.*)$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const TABLE_RULE = /^ {0,3}\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;
// One alternative per inline form; at a given position the earlier alternative wins.
const INLINE = new RegExp([
  /\\([!-/:-@[-`{-~])/.source, // 1: an escaped punctuation character
  /(`+)([^`]|[^`][\s\S]*?[^`])\2(?!`)/.source, // 2, 3: code
  /\*\*(?=\S)([\s\S]*?\S)\*\*/.source, // 4: strong
  /(?<![\p{L}\p{N}_])__(?=\S)([\s\S]*?\S)__(?![\p{L}\p{N}_])/.source, // 5: strong
  /\*(?=[^\s*])([\s\S]*?[^\s*])\*/.source, // 6: emphasis
  /(?<![\p{L}\p{N}_])_(?=[^\s_])([\s\S]*?[^\s_])_(?![\p{L}\p{N}_])/.source, // 7: emphasis
  /\[((?:[^[\]\\]|\\.)*)\]\(\s*<?([^\s()<>]*)>?(?:\s+"[^"]*")?\s*\)/.source, // 8, 9: link
  /<(https?:\/\/[^\s<>]+)>/.source, // 10: autolink
].join('|'), 'u');

/** The address as an absolute http(s) URL, or null (javascript:, data:, relative paths, ...). */
export function safeHref(url) {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

function node(tag, className) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  return e;
}

function link(href, fill) {
  const a = node('a');
  a.href = href;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  fill(a);
  return a;
}

/** Append the inline content of `text` to `parent`. Inside a link, links are plain text. */
export function renderInline(parent, text, inLink = false) {
  let rest = text;
  while (rest) {
    const m = INLINE.exec(rest);
    if (!m) { parent.append(rest); break; }
    if (m.index) parent.append(rest.slice(0, m.index));
    if (m[1] !== undefined) parent.append(m[1]);
    else if (m[3] !== undefined) parent.append(Object.assign(node('code'), { textContent: m[3].trim() || m[3] }));
    else if (m[4] !== undefined || m[5] !== undefined) {
      const strong = node('strong');
      renderInline(strong, m[4] ?? m[5], inLink);
      parent.append(strong);
    } else if (m[6] !== undefined || m[7] !== undefined) {
      const em = node('em');
      renderInline(em, m[6] ?? m[7], inLink);
      parent.append(em);
    } else if (m[8] !== undefined) {
      const href = inLink ? null : safeHref(m[9]);
      if (href) parent.append(link(href, (a) => renderInline(a, m[8], true)));
      else renderInline(parent, m[8], inLink);
    } else {
      const href = inLink ? null : safeHref(m[10]);
      parent.append(href ? link(href, (a) => a.append(m[10])) : m[10]);
    }
    rest = rest.slice(m.index + m[0].length);
  }
  return parent;
}

// The cells of a table row, split at pipes that are not escaped and not inside `code`.
function tableCells(line) {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  const cells = [];
  let cell = '', code = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && s[i + 1] === '|') { cell += '|'; i++; continue; }
    if (c === '`') code ^= 1;
    if (c === '|' && !code) { cells.push(cell.trim()); cell = ''; continue; }
    cell += c;
  }
  cells.push(cell.trim());
  return cells;
}

const isTableStart = (lines, i) => lines[i].includes('|') && i + 1 < lines.length && lines[i + 1].includes('-')
  && TABLE_RULE.test(lines[i + 1]) && tableCells(lines[i]).length === tableCells(lines[i + 1]).length;

const startsBlock = (lines, i) => FENCE.test(lines[i]) || HEADING.test(lines[i]) || RULE.test(lines[i])
  || QUOTE.test(lines[i]) || LIST_ITEM.test(lines[i]) || isTableStart(lines, i);

function renderTable(lines, i, parent) {
  const aligns = tableCells(lines[i + 1]).map((c) => {
    const left = c.startsWith(':'), right = c.endsWith(':');
    return left && right ? 'center' : right ? 'right' : left ? 'left' : '';
  });
  const row = (cells, tag) => {
    const tr = node('tr');
    aligns.forEach((align, k) => tr.append(renderInline(node(tag, align && `align-${align}`), cells[k] ?? '')));
    return tr;
  };
  const table = node('table');
  table.append(node('thead'));
  table.tHead.append(row(tableCells(lines[i]), 'th'));
  const body = node('tbody');
  let j = i + 2;
  for (; j < lines.length && lines[j].trim() && lines[j].includes('|'); j++) body.append(row(tableCells(lines[j]), 'td'));
  table.append(body);
  const wrap = node('div', 'table-wrap');
  wrap.append(table);
  parent.append(wrap);
  return j;
}

const lead = (line) => line.search(/\S/);

function renderList(lines, i, parent) {
  const first = LIST_ITEM.exec(lines[i]);
  const ordered = /\d/.test(first[2]);
  const indent = first[1].length;
  const list = node(ordered ? 'ol' : 'ul');
  if (ordered && parseInt(first[2], 10) !== 1) list.start = parseInt(first[2], 10);
  const nextText = (j) => { while (j < lines.length && !lines[j].trim()) j++; return j < lines.length ? j : -1; };
  while (i < lines.length) {
    const m = LIST_ITEM.exec(lines[i]);
    if (!m || m[1].length !== indent || /\d/.test(m[2]) !== ordered) break;
    const content = indent + m[2].length + 1;
    const body = [m[3]];
    // The item's lines: indented ones (a nested list among them), and lazy continuations of its text.
    for (i++; i < lines.length; i++) {
      const line = lines[i];
      if (!line.trim()) {
        const j = nextText(i);
        if (j < 0 || lead(lines[j]) < content) break;
        body.push('');
      } else if (lead(line) >= content || (lead(line) > indent && LIST_ITEM.test(line))) {
        body.push(line.slice(Math.min(lead(line), content)));
      } else if (!startsBlock(lines, i) && body[body.length - 1] !== '') {
        body.push(line.trim());
      } else {
        break;
      }
    }
    const li = node('li');
    const rest = body.findIndex((l, k) => k > 0 && (LIST_ITEM.test(l) || !l.trim()));
    renderInline(li, (rest < 0 ? body : body.slice(0, rest)).map((l) => l.trim()).join(' '));
    if (rest >= 0) li.append(renderMarkdown(body.slice(rest).join('\n')));
    list.append(li);
    const j = nextText(i);  // a blank line between two items keeps the list going
    if (j > i && LIST_ITEM.exec(lines[j])?.[1].length === indent) i = j;
  }
  parent.append(list);
  return i;
}

/** The card as a DocumentFragment. `headingOffset` shifts heading levels (# becomes h(1 + offset)). */
export function renderMarkdown(text, { headingOffset = 0 } = {}) {
  const lines = String(text ?? '').replace(/\r\n?/g, '\n').replace(/\t/g, '    ').split('\n');
  const out = document.createDocumentFragment();
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (!line.trim()) { i++; continue; }
    if ((m = FENCE.exec(line))) {
      const fence = m[1];
      const body = [];
      for (i++; i < lines.length && !lines[i].trim().startsWith(fence); i++) body.push(lines[i]);
      i++;
      const pre = node('pre');
      const code = node('code');
      code.textContent = body.join('\n');
      if (m[2]) code.dataset.lang = m[2];
      pre.append(code);
      out.append(pre);
    } else if ((m = HEADING.exec(line))) {
      out.append(renderInline(node(`h${Math.min(6, m[1].length + headingOffset)}`), m[2] ?? ''));
      i++;
    } else if (RULE.test(line)) {
      out.append(node('hr'));
      i++;
    } else if (isTableStart(lines, i)) {
      i = renderTable(lines, i, out);
    } else if (QUOTE.test(line)) {
      const body = [];
      for (; i < lines.length && QUOTE.test(lines[i]); i++) body.push(QUOTE.exec(lines[i])[1]);
      const quote = node('blockquote');
      quote.append(renderMarkdown(body.join('\n'), { headingOffset }));
      out.append(quote);
    } else if (LIST_ITEM.test(line)) {
      i = renderList(lines, i, out);
    } else {
      const para = [line.trim()];
      for (i++; i < lines.length && lines[i].trim() && !startsBlock(lines, i); i++) para.push(lines[i].trim());
      out.append(renderInline(node('p'), para.join(' ')));
    }
  }
  return out;
}
