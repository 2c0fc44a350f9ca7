// The report pages' only script (inline, no network): a tooltip with every series' value at the
// step under the pointer, and the log-scale checkboxes of the loss charts.

export const HOVER_SCRIPT = `
(function () {
  for (const fig of document.querySelectorAll("figure.plot")) {
    const tip = fig.querySelector(".tip");
    const box = fig.querySelector("input.logy");
    if (box) box.addEventListener("change", function () {
      fig.querySelector("svg.lin").style.display = box.checked ? "none" : "";
      fig.querySelector("svg.log").style.display = box.checked ? "" : "none";
    });
    for (const svg of fig.querySelectorAll("svg.chart")) {
      const guide = svg.querySelector("line.guide");
      svg.addEventListener("mousemove", function (ev) {
        const m = svg.getScreenCTM();
        if (!m) return;
        const x = (ev.clientX - m.e) / m.a;
        let best = null;
        for (const c of svg.querySelectorAll("circle.pt")) {
          const d = Math.abs(Number(c.getAttribute("cx")) - x);
          if (best === null || d < best.d) best = { d: d, c: c };
        }
        if (!best) return;
        const step = best.c.getAttribute("data-step");
        const lines = ["step " + step];
        for (const g of svg.querySelectorAll("g.series")) {
          const c = g.querySelector('circle.pt[data-step="' + step + '"]');
          if (c) lines.push(g.getAttribute("data-series") + ": " + c.getAttribute("data-v"));
        }
        guide.setAttribute("x1", best.c.getAttribute("cx"));
        guide.setAttribute("x2", best.c.getAttribute("cx"));
        guide.setAttribute("visibility", "visible");
        tip.textContent = "";
        for (const l of lines) { const d = document.createElement("div"); d.textContent = l; tip.appendChild(d); }
        const r = fig.getBoundingClientRect();
        tip.style.display = "block";
        tip.style.left = Math.min(ev.clientX - r.left + 12, r.width - tip.offsetWidth - 4) + "px";
        tip.style.top = (ev.clientY - r.top + 12) + "px";
      });
      svg.addEventListener("mouseleave", function () { tip.style.display = "none"; guide.setAttribute("visibility", "hidden"); });
    }
  }
})();
`;
