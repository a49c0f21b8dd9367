// The process modeler page: the main BPMN file in bpmn-js's Modeler with the official
// properties panel and its Gridloop group (the bundle web/modeler/ builds), each DMN file in
// dmn-js's Modeler (a tab each), form files as JSON beside them. Check and Deploy post every
// file to the same engine functions as the REST API and mark each problem on its element;
// Try runs the draft in memory as each role (engine/trial.py). Data comes in data-*
// attributes (the CSP allows no inline script).
(function () {
  'use strict';

  var root = document.getElementById('modeler');
  if (!root || !window.GridloopModeler) return;
  var msg = root.dataset, main = msg.main;
  var problems = [];

  function status(text, kind) {
    var box = document.getElementById('modeler-status');
    box.textContent = text;
    box.className = kind || '';
  }

  function fill(template, values) {
    return Object.keys(values).reduce(function (text, k) { return text.replace('{' + k + '}', values[k]); }, template);
  }

  function selector(attribute, value) { return '[' + attribute + '="' + CSS.escape(value) + '"]'; }

  // ------------------------------------------------------------------ files
  function fileArea(name) { return root.querySelector('textarea' + selector('data-file', name)); }

  function addFile(name, text, hidden) {
    var details = document.createElement('details'), summary = document.createElement('summary');
    var code = document.createElement('code'), area = document.createElement('textarea');
    details.className = 'file';
    details.hidden = !!hidden;
    code.textContent = name;
    summary.append(code);
    area.className = 'file-text';
    area.rows = 12;
    area.spellcheck = false;
    area.dataset.file = name;
    area.value = text;
    details.append(summary, area);
    document.getElementById('file-list').append(details);
    return area;
  }

  // The forms the panel's Gridloop group shows and edits (a form edited there that does not exist yet is created).
  var forms = {
    get: function (name) { var area = fileArea('forms/' + name); return area ? area.value : ''; },
    set: function (name, text) { (fileArea('forms/' + name) || addFile('forms/' + name, '')).value = text; }
  };

  // ------------------------------------------------------------------ BPMN
  var panel = JSON.parse(msg.panel);
  var modeler = window.GridloopModeler({
    container: root.querySelector('.modeler-canvas' + selector('data-canvas', main)),
    propertiesPanel: {parent: '#properties-panel'},
    gridloop: {labels: panel.labels, hints: panel.hints, roles: JSON.parse(msg.roles), forms: forms}
  });
  var canvas = modeler.get('canvas'), registry = modeler.get('elementRegistry'), overlays = modeler.get('overlays');

  function processKey() {
    var bo = canvas.getRootElement().businessObject;
    if (bo.$type === 'bpmn:Collaboration') bo = ((bo.participants || [])[0] || {}).processRef || bo;
    return bo.id;
  }

  // ------------------------------------------------------------------ DMN (opened when its tab is)
  var decisions = {};

  function openDecisions(name) {
    if (decisions[name] || !window.DmnJS) return Promise.resolve(decisions[name]);
    var dmn = decisions[name] = new window.DmnJS({container: root.querySelector('.modeler-canvas' + selector('data-canvas', name))});
    dmn.on('views.changed', function () { setTimeout(function () { markDecisions(name); }, 0); });
    return dmn.importXML(fileArea(name).value).then(function () { markDecisions(name); return dmn; });
  }

  function markDecisions(name) {
    var box = root.querySelector('.modeler-canvas' + selector('data-canvas', name));
    box.querySelectorAll('.problem-error, .problem-warning').forEach(function (el) {
      el.classList.remove('problem-error', 'problem-warning');
      el.removeAttribute('title');
    });
    problems.filter(function (p) { return p.file === name && p.element; }).forEach(function (p) {
      box.querySelectorAll(selector('data-element-id', p.element)).forEach(function (el) {
        el.classList.add('problem-' + p.severity);
        el.title = p.message;
      });
    });
  }

  // The decision table (or the DRD) that holds a DMN element.
  function showInDecisions(name, element) {
    return openDecisions(name).then(function (dmn) {
      if (!dmn) return;
      var doc = new DOMParser().parseFromString(fileArea(name).value, 'application/xml');
      var found = doc.querySelector(selector('id', element));
      var decision = found && found.closest('decision');
      var view = decision && dmn.getViews().filter(function (v) {
        return v.element.id === decision.getAttribute('id') && v.type !== 'drd';
      })[0];
      return view ? dmn.open(view) : null;
    }).then(function () { markDecisions(name); });
  }

  function showTab(name) {
    root.querySelectorAll('.modeler-tabs [data-tab]').forEach(function (tab) {
      tab.setAttribute('aria-selected', tab.dataset.tab === name ? 'true' : 'false');
    });
    root.querySelectorAll('.modeler-canvas').forEach(function (box) { box.hidden = box.dataset.canvas !== name; });
    document.getElementById('properties-box').hidden = name !== main;
    return name === main ? Promise.resolve() : openDecisions(name);
  }

  function tabButton(name) {
    var tab = document.createElement('button');
    tab.type = 'button';
    tab.className = 'tab';
    tab.setAttribute('role', 'tab');
    tab.dataset.tab = name;
    tab.textContent = name;
    return tab;
  }

  root.querySelector('.modeler-tabs').addEventListener('click', function (e) {
    var tab = e.target.closest('[data-tab]');
    if (tab) showTab(tab.dataset.tab).catch(failed);
  });

  var addDmn = document.getElementById('add-dmn');
  if (addDmn) addDmn.addEventListener('click', function () {
    var n = 1;
    while (fileArea('decision_' + n + '.dmn')) n += 1;
    var id = 'decision_' + n, name = id + '.dmn';
    addFile(name, msg.newDmn.split('__ID__').join(id), true);
    var box = document.createElement('div');
    box.className = 'modeler-canvas dmn-canvas';
    box.dataset.canvas = name;
    box.hidden = true;
    root.querySelector('.modeler-canvas' + selector('data-canvas', main)).after(box);
    addDmn.before(tabButton(name));
    showTab(name).catch(failed);
  });

  // ------------------------------------------------------------------ check and deploy
  function files() {
    var saves = [modeler.saveXML({format: true}).then(function (saved) { fileArea(main).value = saved.xml; })];
    Object.keys(decisions).forEach(function (name) {
      saves.push(decisions[name].saveXML({format: true}).then(function (saved) { fileArea(name).value = saved.xml; }));
    });
    return Promise.all(saves).then(function () {
      var out = {};
      root.querySelectorAll('textarea[data-file]').forEach(function (area) { out[area.dataset.file] = area.value; });
      return out;
    });
  }

  function post(url, extra) {
    return files().then(function (body) {
      return fetch(url, {method: 'POST', credentials: 'same-origin',
                         headers: {'Content-Type': 'application/json', 'X-CSRFToken': msg.csrf},
                         body: JSON.stringify(Object.assign({files: body}, extra || {}))});
    }).then(function (response) {
      return response.json().catch(function () { return {error: {message: response.status + ' ' + response.statusText}}; })
        .then(function (answer) { return {status: response.status, answer: answer}; });
    });
  }

  function onBpmn(p) { return p.element && (!p.file || p.file === main) && registry.get(p.element); }

  function showProblems(found) {
    problems = found;
    registry.forEach(function (el) { canvas.removeMarker(el, 'problem-error'); canvas.removeMarker(el, 'problem-warning'); });
    overlays.remove({type: 'problem'});
    var list = document.getElementById('problems');
    list.replaceChildren();
    problems.forEach(function (p) {
      var item = document.createElement('li');
      item.className = 'problem-' + p.severity;
      item.textContent = (p.element ? p.element + ': ' : '') + p.message + (p.line ? ' (' + p.file + ':' + p.line + ')' : '');
      if (onBpmn(p)) {
        canvas.addMarker(p.element, 'problem-' + p.severity);
        var badge = document.createElement('span');
        badge.className = 'problem-badge problem-' + p.severity;
        badge.textContent = '!';
        badge.title = p.message;
        overlays.add(p.element, 'problem', {position: {top: -8, left: -8}, html: badge});
        item.addEventListener('click', function () {
          showTab(main);
          modeler.get('selection').select(registry.get(p.element));
        });
      } else if (p.file && /\.dmn$/.test(p.file) && fileArea(p.file)) {
        item.addEventListener('click', function () {
          showTab(p.file).then(function () { return p.element && showInDecisions(p.file, p.element); }).catch(failed);
        });
      }
      list.append(item);
    });
    root.querySelectorAll('.modeler-tabs [data-tab]').forEach(function (tab) {
      tab.classList.toggle('has-problems', problems.some(function (p) { return p.file === tab.dataset.tab; }));
    });
    Object.keys(decisions).forEach(markDecisions);
  }

  function failed(err) { status(msg.msgFailed + ' ' + (err && err.message || err), 'error'); }

  function answerError(r) {
    var error = r.answer.error || {}, fields = error.fields || {};
    return new Error([error.message || r.status].concat(Object.keys(fields).map(function (k) {
      return k + ': ' + fields[k];
    })).join(' · '));
  }

  document.getElementById('check').addEventListener('click', function () {
    post(msg.checkUrl).then(function (r) {
      if (r.status !== 200) throw answerError(r);
      showProblems(r.answer.problems);
      status(r.answer.problems.length ? fill(msg.msgProblems, {n: r.answer.problems.length}) : msg.msgClean,
             r.answer.problems.length ? 'warning' : 'ok');
    }).catch(failed);
  });

  document.getElementById('deploy').addEventListener('click', function () {
    post(msg.deployUrl).then(function (r) {
      if (r.status === 400 && r.answer.problems) {
        showProblems(r.answer.problems);
        status(msg.msgRefused, 'error');
        return;
      }
      if (r.status !== 200 && r.status !== 201) throw answerError(r);
      showProblems([]);
      status(fill(r.status === 201 ? msg.msgDeployed : msg.msgUnchanged, {key: r.answer.key, version: r.answer.version}), 'ok');
      var link = document.createElement('a');
      link.href = r.answer.url;
      link.id = 'deployed-link';
      link.textContent = ' → ' + r.answer.key + ' v' + r.answer.version;
      document.getElementById('modeler-status').append(link);
    }).catch(failed);
  });

  // ------------------------------------------------------------------ try it
  var trial = {steps: [], marked: []};

  function example(field) {
    var type = Array.isArray(field.type) ? field.type[0] : field.type;
    if (field['default'] !== undefined) return field['default'];
    if (field['enum']) return field['enum'][0];
    if (type === 'boolean') return true;
    if (type === 'integer' || type === 'number') return field.minimum || 0;
    if (type === 'object') return skeleton(field, {});
    if (type === 'array') return [];
    return field.minLength ? 'x'.repeat(field.minLength) : '';
  }

  // Data a form accepts: its fields with the values the task already has, required ones filled in.
  function skeleton(schema, values) {
    var props = (schema && schema.properties) || {}, out = {};
    Object.keys(props).forEach(function (name) { if (values && values[name] !== undefined && values[name] !== null) out[name] = values[name]; });
    ((schema && schema.required) || []).forEach(function (name) { if (!(name in out)) out[name] = example(props[name] || {}); });
    return out;
  }

  function startForm() {
    var bo = canvas.getRootElement().businessObject;
    if (bo.$type === 'bpmn:Collaboration') bo = ((bo.participants || [])[0] || {}).processRef || bo;
    var ext = bo.extensionElements, name = null;
    ((ext && ext.values) || []).forEach(function (v) {
      (v.values || []).forEach(function (p) { if (p.name === 'startFormJsonSchemaFilename') name = p.value; });
    });
    try { return name ? JSON.parse(forms.get(name)) : null; } catch (err) { return null; }
  }

  function markTrial(elements) {
    trial.marked.forEach(function (m) { if (registry.get(m[0])) canvas.removeMarker(m[0], m[1]); });
    trial.marked = [];
    Object.keys(elements).forEach(function (id) {
      if (!registry.get(id)) return;
      var css = 'state-' + elements[id].state;
      canvas.addMarker(id, css);
      trial.marked.push([id, css]);
    });
  }

  function taskCard(task, actingAs) {
    var card = document.createElement('div'), title = document.createElement('h3');
    var area = document.createElement('textarea'), button = document.createElement('button');
    var role = task.role || msg.msgStarter;
    card.className = 'trial-task';
    card.dataset.element = task.element;
    title.textContent = (task.name_zh ? task.name_zh + ' ' : '') + task.name + ' — ' + fill(msg.msgOffered, {role: role});
    area.className = 'file-text trial-data';
    area.rows = 5;
    area.spellcheck = false;
    area.value = JSON.stringify(skeleton(task.schema, task.input), null, 2);
    button.type = 'button';
    button.className = 'small primary';
    button.textContent = fill(msg.msgCompleteAs, {role: role});
    button.disabled = !!(actingAs && task.role && actingAs !== task.role);
    button.addEventListener('click', function () {
      var data;
      try { data = JSON.parse(area.value); } catch (err) { failed(err); return; }
      trial.steps.push({task: task.element, as: task.role || 'starter', data: data});
      runTrial().catch(function (err) { trial.steps.pop(); failed(err); });
    });
    card.append(title, area, button);
    return card;
  }

  function showTrial(answer) {
    var role = document.getElementById('trial-role'), acting = role.value;
    role.replaceChildren(new Option('—', ''));
    answer.roles.forEach(function (r) { role.append(new Option(r, r)); });
    role.value = answer.roles.indexOf(acting) >= 0 ? acting : '';
    var done = document.getElementById('trial-done');
    done.replaceChildren();
    answer.done.forEach(function (d) {
      var item = document.createElement('li');
      item.textContent = d.wait ? fill(msg.msgWaited, {limit: d.wait, fired: d.fired.join(', ') || msg.msgNothingFired})
        : d.name + ' — ' + d.as + ': ' + JSON.stringify(d.data);
      done.append(item);
    });
    var tasks = document.getElementById('trial-tasks');
    tasks.replaceChildren.apply(tasks, answer.tasks.map(function (t) { return taskCard(t, role.value); }));
    var text = answer.status === 'completed' ? msg.msgCompleted : fill(msg.msgRunning, {n: answer.tasks.length});
    if (answer.waiting.length) text += ' · ' + fill(msg.msgWaiting, {events: answer.waiting.join(', ')});
    document.getElementById('trial-status').textContent = text;
    markTrial(answer.elements);
    trial.last = answer;
  }

  function runTrial() {
    var start = JSON.parse(document.getElementById('trial-start').value || '{}');
    return post(msg.tryUrl, {key: processKey(), start: start, steps: trial.steps}).then(function (r) {
      if (r.status !== 200) throw answerError(r);
      showTrial(r.answer);
      status('', '');
    });
  }

  document.getElementById('try').addEventListener('click', function () {
    var section = document.getElementById('trial'), start = document.getElementById('trial-start');
    section.hidden = false;
    if (start.value.trim() === '{}') start.value = JSON.stringify(skeleton(startForm(), {}), null, 2);
    trial.steps = [];
    showTab(main);
    runTrial().catch(failed);
  });
  document.getElementById('trial-restart').addEventListener('click', function () {
    trial.steps = [];
    runTrial().catch(failed);
  });
  document.getElementById('trial-back').addEventListener('click', function () {
    trial.steps.pop();
    runTrial().catch(failed);
  });
  document.getElementById('trial-wait-button').addEventListener('click', function () {
    trial.steps.push({wait: document.getElementById('trial-wait').value.trim()});
    runTrial().catch(function (err) { trial.steps.pop(); failed(err); });
  });
  document.getElementById('trial-role').addEventListener('change', function () { if (trial.last) showTrial(trial.last); });

  modeler.importXML(fileArea(main).value).then(function () {
    canvas.zoom('fit-viewport');
    root.classList.add('modeler-ready');
  }).catch(failed);
})();
