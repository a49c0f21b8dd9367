// The process modeler: bpmn-js's Modeler edits the main BPMN file (names by double-click or
// the side form), the side form edits the selected element's Gridloop properties
// (spiffworkflow:property extension elements), the other files are textareas. Check and Deploy
// post every file to the same engine functions as the REST API and mark each problem on its
// element. Data comes in data-* attributes (the CSP allows no inline script).
(function () {
  'use strict';

  // Just enough of SpiffWorkflow's BPMN extensions for bpmn-js to read, edit and write them.
  var SPIFF = {
    name: 'SpiffWorkflow', uri: 'http://spiffworkflow.org/bpmn/schema/1.0/core', prefix: 'spiffworkflow',
    xml: {tagAlias: 'lowerCase'}, associations: [],
    types: [
      {name: 'Properties', superClass: ['Element'], properties: [{name: 'values', type: 'Property', isMany: true}]},
      {name: 'Property', superClass: ['Element'], properties: [
        {name: 'name', type: 'String', isAttr: true}, {name: 'value', type: 'String', isAttr: true}]},
      {name: 'CalledDecisionId', superClass: ['Element'], properties: [{name: 'value', type: 'String', isBody: true}]},
      {name: 'MessageVariable', superClass: ['Element'], properties: [{name: 'value', type: 'String', isBody: true}]}
    ]
  };

  var root = document.getElementById('modeler');
  if (!root || !window.BpmnJS) return;
  var msg = root.dataset;
  var mainArea = root.querySelector('textarea[data-file="' + msg.main + '"]');
  var modeler = new window.BpmnJS({container: root.querySelector('.modeler-canvas'),
                                   moddleExtensions: {spiffworkflow: SPIFF}});
  var moddle = modeler.get('moddle'), modeling = modeler.get('modeling'), canvas = modeler.get('canvas');
  var registry = modeler.get('elementRegistry');
  var selected = null, marked = [];

  function status(text, kind) {
    var box = document.getElementById('modeler-status');
    box.textContent = text;
    box.className = kind || '';
  }

  // ------------------------------------------------------------------ the side form
  // A pool's properties are its process's (where the process-level properties live).
  function holderOf(element) {
    var bo = element.businessObject;
    return bo.$type === 'bpmn:Participant' && bo.processRef ? bo.processRef : bo;
  }

  function propertiesOf(bo) {
    var ext = bo.extensionElements;
    var holder = ext && (ext.values || []).filter(function (v) { return v.$type === 'spiffworkflow:Properties'; })[0];
    return holder ? (holder.values || []).map(function (p) { return {name: p.name, value: p.value}; }) : [];
  }

  function writeProperties(element, rows) {
    var bo = holderOf(element);
    var ext = bo.extensionElements || moddle.create('bpmn:ExtensionElements', {values: []});
    var others = (ext.values || []).filter(function (v) { return v.$type !== 'spiffworkflow:Properties'; });
    var kept = rows.filter(function (r) { return r.name; });
    if (kept.length) {
      others.push(moddle.create('spiffworkflow:Properties', {values: kept.map(function (r) {
        return moddle.create('spiffworkflow:Property', {name: r.name, value: r.value});
      })}));
    }
    var next = moddle.create('bpmn:ExtensionElements', {values: others});
    modeling.updateModdleProperties(element, bo, {extensionElements: others.length ? next : undefined});
  }

  function rowsInForm() {
    return Array.prototype.map.call(document.querySelectorAll('#props tr'), function (tr) {
      var inputs = tr.querySelectorAll('input');
      return {name: inputs[0].value.trim(), value: inputs[1].value};
    });
  }

  function propRow(prop) {
    var tr = document.createElement('tr');
    [['name', 'prop-names'], ['value', null]].forEach(function (spec) {
      var td = document.createElement('td'), input = document.createElement('input');
      input.value = prop[spec[0]] || '';
      input.className = 'prop-' + spec[0];
      if (spec[1]) input.setAttribute('list', spec[1]);
      input.addEventListener('change', function () { if (selected) writeProperties(selected, rowsInForm()); });
      td.append(input);
      tr.append(td);
    });
    var td = document.createElement('td'), remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'small';
    remove.textContent = '×';
    remove.addEventListener('click', function () {
      tr.remove();
      if (selected) writeProperties(selected, rowsInForm());
    });
    td.append(remove);
    tr.append(td);
    return tr;
  }

  function showElement(element) {
    selected = element && element.type !== 'label' ? element : canvas.getRootElement();
    if (!selected.businessObject) selected = null;  // the implicit root while a diagram is imported
    var form = document.getElementById('element-form');
    document.getElementById('element-hint').hidden = !!selected;
    form.hidden = !selected;
    document.getElementById('element-id').textContent = selected ? selected.id : '';
    if (!selected) return;
    document.getElementById('element-key').value = selected.businessObject.id || '';
    document.getElementById('element-name').value = selected.businessObject.name || '';
    var body = document.getElementById('props');
    body.replaceChildren.apply(body, propertiesOf(holderOf(selected)).map(propRow));
  }

  document.getElementById('element-name').addEventListener('change', function (e) {
    if (selected) modeling.updateProperties(selected, {name: e.target.value});
  });
  document.getElementById('element-key').addEventListener('change', function (e) {
    var id = e.target.value.trim();
    if (!selected) return;
    if (/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(id) && !registry.get(id)) modeling.updateProperties(selected, {id: id});
    e.target.value = selected.businessObject.id;  // refused: not an XML name, or taken
  });
  document.getElementById('add-prop').addEventListener('click', function () {
    document.getElementById('props').append(propRow({}));
  });
  modeler.get('eventBus').on('selection.changed', function (e) { showElement(e.newSelection[0] || null); });
  modeler.get('eventBus').on('element.changed', function (e) {
    if (selected && e.element === selected) document.getElementById('element-name').value = selected.businessObject.name || '';
  });

  // ------------------------------------------------------------------ check and deploy
  function files() {
    return modeler.saveXML({format: true}).then(function (saved) {
      mainArea.value = saved.xml;
      var out = {};
      root.querySelectorAll('textarea[data-file]').forEach(function (area) { out[area.dataset.file] = area.value; });
      return out;
    });
  }

  function post(url) {
    return files().then(function (body) {
      return fetch(url, {method: 'POST', credentials: 'same-origin',
                         headers: {'Content-Type': 'application/json', 'X-CSRFToken': msg.csrf},
                         body: JSON.stringify({files: body})});
    }).then(function (response) {
      return response.json().then(function (answer) { return {status: response.status, answer: answer}; });
    });
  }

  function showProblems(problems) {
    marked.forEach(function (m) { canvas.removeMarker(m[0], m[1]); });
    marked = [];
    var list = document.getElementById('problems');
    list.replaceChildren();
    problems.forEach(function (p) {
      var item = document.createElement('li');
      item.className = 'problem-' + p.severity;
      item.textContent = (p.element ? p.element + ': ' : '') + p.message + (p.line ? ' (' + p.file + ':' + p.line + ')' : '');
      if (p.element && registry.get(p.element)) {
        var css = 'problem-' + p.severity;
        canvas.addMarker(p.element, css);
        marked.push([p.element, css]);
        item.addEventListener('click', function () { modeler.get('selection').select(registry.get(p.element)); });
      }
      list.append(item);
    });
  }

  function failed(err) { status(msg.msgFailed + ' ' + err, 'error'); }

  document.getElementById('check').addEventListener('click', function () {
    post(msg.checkUrl).then(function (r) {
      if (r.status !== 200) throw new Error((r.answer.error || {}).message || r.status);
      showProblems(r.answer.problems);
      status(r.answer.problems.length ? msg.msgProblems.replace('{n}', r.answer.problems.length) : msg.msgClean,
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
      if (r.status !== 200 && r.status !== 201) throw new Error((r.answer.error || {}).message || r.status);
      showProblems([]);
      var text = (r.status === 201 ? msg.msgDeployed : msg.msgUnchanged)
        .replace('{key}', r.answer.key).replace('{version}', r.answer.version);
      status(text, 'ok');
      var link = document.createElement('a');
      link.href = r.answer.url;
      link.id = 'deployed-link';
      link.textContent = ' → ' + r.answer.key + ' v' + r.answer.version;
      document.getElementById('modeler-status').append(link);
    }).catch(failed);
  });

  modeler.importXML(mainArea.value).then(function () {
    canvas.zoom('fit-viewport');
    showElement(null);
    root.classList.add('modeler-ready');
  }).catch(failed);
})();
