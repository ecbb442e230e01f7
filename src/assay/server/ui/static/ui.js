/* Draw every chart (<div class="plot"> holding its figure as JSON) once the page is laid out, and again in
   content that HTMX swaps in. */
function drawCharts(root) {
  if (typeof Plotly === "undefined") return;
  root.querySelectorAll(".plot:not(.drawn)").forEach((el) => {
    const holder = el.querySelector("script[type='application/json']");
    if (!holder) return;
    const fig = JSON.parse(holder.textContent);
    holder.remove();
    el.classList.add("drawn");
    Plotly.newPlot(el, fig.data, fig.layout, fig.config);
  });
}
drawCharts(document);
document.addEventListener("htmx:afterSwap", (event) => drawCharts(event.target));
