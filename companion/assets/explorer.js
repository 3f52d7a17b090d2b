// The threshold explorer's script (companion/explorer.py puts one copy in each explorer, with
// __EXPLORER_ID__ replaced by the container's id as a JSON string).
(function () {
  var root = document.getElementById(__EXPLORER_ID__);
  if (!root || root.getAttribute('data-te-ready')) { return; }
  var spec = JSON.parse(root.querySelector('script.te-data').textContent);
  var state = {rule: spec.initial.rule, metric: spec.initial.metric, value: spec.initial.value,
               method: spec.initial.method};
  var plot = root.querySelector('.te-plot');
  var select = root.querySelector('select[data-control="value"]');
  var summary = root.querySelector('.te-summary');
  function fillValues() {
    var list = spec.values[state.rule + '|' + state.metric] || [];
    var keys = list.map(function (v) { return v[0]; });
    if (keys.indexOf(state.value) < 0) { state.value = keys.length ? keys[Math.floor((keys.length - 1) / 2)] : null; }
    while (select.firstChild) { select.removeChild(select.firstChild); }
    list.forEach(function (v) {
      var opt = document.createElement('option');
      opt.value = v[0]; opt.textContent = v[1]; opt.selected = (v[0] === state.value);
      select.appendChild(opt);
    });
  }
  function traces(s) {
    var out = [
      {type: 'scatter', mode: 'markers', name: 'T* of each seed', x: s.seed_n, y: s.seed_t,
       customdata: s.seed_id, hovertemplate: 'N = %{x}<br>T* = %{y}<br>seed %{customdata}<extra></extra>',
       marker: {color: spec.style.seed, size: 7, opacity: 0.75}},
      {type: 'scatter', mode: 'lines+markers', name: 'seed mean', x: s.mean_n, y: s.mean_t,
       hovertemplate: 'N = %{x}<br>mean T* = %{y}<extra></extra>',
       line: {color: spec.style.mean, width: 2}, marker: {color: spec.style.mean, size: 8, symbol: 'diamond'}}
    ];
    s.laws.forEach(function (law) {
      var st = spec.style.law[law.model];
      var has = law.t.length > 0;
      out.push({type: 'scatter', mode: 'lines', name: law.label, x: has ? spec.curve_n : [null],
                y: has ? law.t : [null], hoverinfo: has ? 'x+y+name' : 'skip',
                line: {color: st.color, dash: st.dash, width: 2}});
    });
    return out;
  }
  function draw() {
    var s = spec.settings[[state.rule, state.metric, state.value, state.method].join('|')];
    root.querySelectorAll('button[data-control]').forEach(function (b) {
      b.setAttribute('aria-pressed', String(state[b.getAttribute('data-control')] === b.getAttribute('data-value')));
    });
    if (!s) { summary.textContent = 'No data for this setting.'; return; }
    summary.textContent = s.summary;
    var layout = {margin: {l: 64, r: 16, t: 16, b: 120}, height: 520, hovermode: 'closest',
                  font: {family: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif', size: 13},
                  xaxis: {type: 'log', title: {text: spec.axes.x}, tickvals: spec.sizes,
                          ticktext: spec.size_labels},
                  yaxis: {title: {text: spec.axes.y}, rangemode: 'tozero'},
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
    fillValues();
    draw();
    root.addEventListener('click', function (ev) {
      var b = ev.target.closest('button[data-control]');
      if (!b || !root.contains(b)) { return; }
      state[b.getAttribute('data-control')] = b.getAttribute('data-value');
      if (b.getAttribute('data-control') !== 'method') { fillValues(); }
      draw();
    });
    select.addEventListener('change', function () { state.value = select.value; draw(); });
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
