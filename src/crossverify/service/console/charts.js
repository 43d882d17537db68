// The console's charts as inline SVG, drawn here (no charting library, nothing from another origin): bars for
// figures by name, columns for figures by day. Every bar and column is a link to the rows behind it.
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  node.append(...children);
  return node;
}

function frame(label, width, height, ...children) {
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: "chart" },
    svg("title", {}, label), ...children);
}

/**
 * Horizontal bars, one per item ({ label, amount, href }), longest first as given; `format` writes an amount. A label
 * longer than its room is cut by `fitLabels` once drawn (whole on hover).
 */
export function bars(label, items, format) {
  const row = 28;
  const width = 560;
  const left = 200;
  const top = Math.max(1, ...items.map((i) => i.amount));
  const rows = items.map((item, n) => {
    const y = n * row;
    const length = Math.max(1, Math.round((width - left - 90) * item.amount / top));
    return svg("a", { href: item.href, class: "bar" },
      svg("title", {}, `${item.label}: ${format(item.amount)}`),
      svg("text", { x: left - 8, y: y + 18, "text-anchor": "end", class: "label", "data-room": left - 8 }, item.label),
      svg("rect", { x: left, y: y + 5, width: length, height: row - 10, rx: 3 }),
      svg("text", { x: left + length + 6, y: y + 18, class: "amount" }, format(item.amount)));
  });
  return frame(label, width, Math.max(row, row * items.length), ...rows);
}

/** Columns for a series by day ({ label: "YYYY-MM-DD", amount, href }), the first and last day written below, the
 * highest figure as `most` words it. */
export function columns(label, items, format, most) {
  const width = 560;
  const height = 170;
  const base = 140;
  const top = Math.max(1, ...items.map((i) => i.amount));
  const step = (width - 20) / Math.max(1, items.length);
  const drawn = items.map((item, n) => {
    const tall = Math.max(1, Math.round(120 * item.amount / top));
    return svg("a", { href: item.href, class: "bar" },
      svg("title", {}, `${item.label}: ${format(item.amount)}`),
      svg("rect", { x: (10 + n * step).toFixed(1), y: base - tall, width: Math.max(1, step * 0.8).toFixed(1),
        height: tall }));
  });
  const ends = items.length ? [
    svg("text", { x: 10, y: height - 8, class: "label" }, items[0].label),
    svg("text", { x: width - 10, y: height - 8, "text-anchor": "end", class: "label" }, items.at(-1).label),
    svg("text", { x: width - 10, y: 12, "text-anchor": "end", class: "amount" }, most(format(top))),
  ] : [];
  return frame(label, width, height, ...drawn, ...ends);
}

/** Cut each bar's label in `root` that is wider than its room (drawn, in the page) to what fits, with an ellipsis. */
export function fitLabels(root) {
  for (const text of root.querySelectorAll("text[data-room]")) {
    const kept = [...text.textContent];
    while (kept.length > 1 && text.getComputedTextLength() > Number(text.dataset.room)) {
      kept.pop();
      text.textContent = `${kept.join("").trimEnd()}…`;
    }
  }
}
