// Chapter 4's view (companion/chapters/finetune/explorer.py puts one copy in each view, with
// __EXPLORER_ID__ replaced by the container's id as a JSON string).
(function () {
  var root = document.getElementById(__EXPLORER_ID__);
  if (!root || root.getAttribute('data-te-ready')) { return; }
  var spec = JSON.parse(root.querySelector('script.te-data').textContent);
  var CONTROLS = ['arm', 'method', 'ratio', 'budget'];
  var state = {arm: spec.initial.arm, method: spec.initial.method, ratio: spec.initial.ratio,
               budget: spec.initial.budget, delta: spec.initial.delta};
  var keys = Object.keys(spec.settings).map(function (k) { return k.split('|'); });
  var plot = root.querySelector('.te-plot');
  var select = root.querySelector('select[data-control="delta"]');
  var summary = root.querySelector('.te-summary');
  function key() { return CONTROLS.map(function (c) { return state[c]; }).join('|'); }
  function snap(changed) {
    // a combination that does not exist: the one that keeps the clicked value and most of the others
    if (spec.settings[key()]) { return; }
    var best = null, bestScore = -1;
    keys.forEach(function (parts) {
      var i = CONTROLS.indexOf(changed);
      if (i >= 0 && parts[i] !== state[changed]) { return; }
      var score = 0;
      CONTROLS.forEach(function (c, j) { if (parts[j] === state[c]) { score += 1 << (CONTROLS.length - j); } });
      if (score > bestScore) { best = parts; bestScore = score; }
    });
    if (best) { CONTROLS.forEach(function (c, j) { state[c] = best[j]; }); }
  }
  function traces(s) {
    var out = s.lines.map(function (line) {
      return {type: 'scatter', mode: 'lines+markers', name: line.label, x: line.t, y: line.acc,
              hovertemplate: line.label + '<br>t + 1 = %{x}<br>accuracy = %{y}<extra></extra>',
              line: {color: line.color, width: 2}, marker: {color: line.color, size: 5}};
    });
    var m = s.marks[state.delta];
    out.push({type: 'scatter', mode: 'markers', name: 't_enough (seed mean)', x: m.n.length ? m.t : [null],
              y: m.n.length ? m.acc : [null], customdata: m.n,
              hovertemplate: 'N = %{customdata}<br>t_enough + 1 = %{x}<extra></extra>',
              marker: {color: m.color.length ? m.color : '#000000', size: 13, symbol: 'diamond',
                       line: {color: '#000000', width: 1.5}}});
    return out;
  }
  function draw() {
    var s = spec.settings[key()];
    root.querySelectorAll('button[data-control]').forEach(function (b) {
      b.setAttribute('aria-pressed', String(state[b.getAttribute('data-control')] === b.getAttribute('data-value')));
    });
    if (!s) { summary.textContent = 'No data for this setting.'; return; }
    summary.textContent = s.marks[state.delta].summary;
    var layout = {margin: {l: 64, r: 16, t: 16, b: 110}, height: 500, hovermode: 'closest',
                  font: {family: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif', size: 13},
                  xaxis: {type: 'log', title: {text: spec.axes.x}},
                  yaxis: {title: {text: spec.axes.y}},
                  legend: {orientation: 'h', x: 0, y: -0.2, xanchor: 'left', yanchor: 'top'},
                  paper_bgcolor: '#ffffff', plot_bgcolor: '#ffffff'};
    window.Plotly.react(plot, traces(s), layout, {displaylogo: false, responsive: true,
                        modeBarButtonsToRemove: ['select2d', 'lasso2d']});
  }
  function start() {
    if (root.getAttribute('data-te-ready')) { return true; }
    if (!window.Plotly) { return false; }
    root.setAttribute('data-te-ready', '1');
    var missing = root.querySelector('.te-missing');
    if (missing) { missing.hidden = true; }
    draw();
    root.addEventListener('click', function (ev) {
      var b = ev.target.closest('button[data-control]');
      if (!b || !root.contains(b)) { return; }
      var c = b.getAttribute('data-control');
      state[c] = b.getAttribute('data-value');
      snap(c);
      draw();
    });
    select.addEventListener('change', function () { state.delta = select.value; draw(); });
    var fit = function () { window.Plotly.Plots.resize(plot); };
    window.addEventListener('beforeprint', fit);
    window.addEventListener('afterprint', fit);
    return true;
  }
  function later() {
    if (!start()) {
      var missing = root.querySelector('.te-missing');
      if (missing) { missing.hidden = false; }
    }
  }
  if (!start()) {
    document.addEventListener('DOMContentLoaded', function () { start(); });
    window.addEventListener('load', later);
  }
})();
