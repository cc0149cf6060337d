// A zoomable timeline of requests: stacked bars of answers per bucket over the visible range.
// Data: T (request times in µs), C (answer class per request), CLASSES, COLORS.
(function () {
  const canvas = document.getElementById("timeline");
  const context = canvas.getContext("2d");
  const BUCKETS = 240;
  const end = T.length ? T[T.length - 1] / 1e6 : 1;
  const full = [0, Math.max(end, 0.001)];
  let view = full.slice();
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.has("from") && hash.has("to")) {
    const from = Number(hash.get("from")), to = Number(hash.get("to"));
    if (to > from) view = [from, to];
  }
  function counts() {
    const width = (view[1] - view[0]) / BUCKETS;
    const bars = Array.from({ length: BUCKETS }, () => new Array(CLASSES.length).fill(0));
    let shown = 0;
    for (let i = 0; i < T.length; i++) {
      const t = T[i] / 1e6;
      if (t < view[0] || t >= view[1]) continue;
      const index = Math.min(BUCKETS - 1, Math.floor((t - view[0]) / width));
      bars[index][C[i]] += 1;
      shown += 1;
    }
    return { bars, width, shown };
  }
  function draw() {
    const { bars, width, shown } = counts();
    const peak = Math.max(1, ...bars.map((bar) => bar.reduce((a, b) => a + b, 0)));
    const w = canvas.width, h = canvas.height, left = 50, bottom = 24;
    context.clearRect(0, 0, w, h);
    context.fillStyle = "#222";
    context.font = "12px sans-serif";
    context.fillText(String(peak), 4, 14);
    context.fillText("0", 30, h - bottom);
    const barWidth = (w - left) / BUCKETS;
    bars.forEach((bar, index) => {
      let y = h - bottom;
      bar.forEach((count, cls) => {
        if (!count) return;
        const height = (count / peak) * (h - bottom - 20);
        context.fillStyle = COLORS[cls];
        context.fillRect(left + index * barWidth, y - height, Math.max(1, barWidth - 0.5), height);
        y -= height;
      });
    });
    context.fillStyle = "#222";
    context.fillText(view[0].toFixed(3) + " s", left, h - 6);
    const right = view[1].toFixed(3) + " s";
    context.fillText(right, w - context.measureText(right).width - 4, h - 6);
    document.getElementById("peak").textContent = String(bars.length ? Math.max(...bars.map((bar) => bar.reduce((a, b) => a + b, 0))) : 0);
    document.getElementById("bucket-ms").textContent = (width * 1000).toPrecision(3);
    document.getElementById("shown").textContent = String(shown);
    document.getElementById("view").textContent = view[0].toFixed(3) + " s – " + view[1].toFixed(3) + " s";
  }
  function zoom(factor, at) {
    const span = (view[1] - view[0]) * factor;
    const center = at === undefined ? (view[0] + view[1]) / 2 : at;
    const from = Math.max(full[0], center - span * ((center - view[0]) / (view[1] - view[0])));
    view = [from, Math.min(full[1], from + span)];
    draw();
  }
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const x = (event.offsetX - 50) / (canvas.width - 50);
    zoom(event.deltaY < 0 ? 0.5 : 2, view[0] + x * (view[1] - view[0]));
  });
  let drag = null;
  canvas.addEventListener("mousedown", (event) => { drag = { x: event.offsetX, view: view.slice() }; });
  window.addEventListener("mouseup", () => { drag = null; });
  canvas.addEventListener("mousemove", (event) => {
    if (!drag) return;
    const shift = ((drag.x - event.offsetX) / (canvas.width - 50)) * (drag.view[1] - drag.view[0]);
    const span = drag.view[1] - drag.view[0];
    const from = Math.min(Math.max(full[0], drag.view[0] + shift), Math.max(full[0], full[1] - span));
    view = [from, from + span];
    draw();
  });
  document.getElementById("zoom-in").onclick = () => zoom(0.5);
  document.getElementById("zoom-out").onclick = () => zoom(2);
  document.getElementById("zoom-reset").onclick = () => { view = full.slice(); draw(); };
  const legend = document.getElementById("legend");
  CLASSES.forEach((name, cls) => {
    const item = document.createElement("span");
    item.innerHTML = '<i style="background:' + COLORS[cls] + '"></i>' + name + " " + C.filter((c) => c === cls).length;
    item.id = "class-" + cls;
    legend.appendChild(item);
  });
  draw();
})();
