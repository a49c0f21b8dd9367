// A BPMN diagram on a page: the viewer (bpmn-js, served from node_modules) draws the XML at
// data-xml-url, or the instance at data-state-url (its XML plus each element's state, count
// and history events): states become CSS classes on the elements, counts become badges, and a
// click on an element lists its events. No inline code: the CSP allows scripts from 'self' only.
(function () {
  'use strict';

  function eventList(box, element, events) {
    var panel = box.querySelector('.diagram-events');
    if (!panel) return;
    var list = panel.querySelector('ol');
    panel.querySelector('.diagram-element').textContent = element.businessObject.name || element.id;
    list.replaceChildren();
    (events[element.id] || []).forEach(function (event) {
      var item = document.createElement('li');
      var when = document.createElement('time');
      when.dateTime = event.at;
      when.textContent = event.when;
      item.append(when, ' ', event.text);
      list.append(item);
    });
    panel.querySelector('.diagram-none').hidden = list.children.length > 0;
    panel.hidden = false;
  }

  function mark(viewer, box, state) {
    var canvas = viewer.get('canvas'), overlays = viewer.get('overlays'), registry = viewer.get('elementRegistry');
    Object.keys(state.elements).forEach(function (id) {
      if (!registry.get(id)) return;
      var entry = state.elements[id];
      canvas.addMarker(id, 'state-' + entry.state);
      if (entry.count > 0) {
        var badge = document.createElement('span');
        badge.className = 'diagram-count';
        badge.textContent = entry.count;
        overlays.add(id, 'count', {position: {top: -10, right: 10}, html: badge});
      }
    });
    viewer.get('eventBus').on('element.click', function (e) {
      if (e.element.type !== 'bpmn:Process' && e.element.type !== 'label') eventList(box, e.element, state.events || {});
    });
  }

  function show(box) {
    var canvasBox = box.querySelector('.diagram-canvas');
    var viewer = new window.BpmnJS({container: canvasBox});
    var fetchText = function (url) {
      return fetch(url, {credentials: 'same-origin'}).then(function (r) {
        if (!r.ok) throw new Error(url + ': ' + r.status);
        return r;
      });
    };
    var stateUrl = box.dataset.stateUrl;
    var loading = stateUrl
      ? fetchText(stateUrl).then(function (r) { return r.json(); }).then(function (state) {
          return fetchText(state.xml_url).then(function (r) { return r.text(); })
            .then(function (xml) { return {xml: xml, state: state}; });
        })
      : fetchText(box.dataset.xmlUrl).then(function (r) { return r.text(); }).then(function (xml) { return {xml: xml}; });
    loading.then(function (found) {
      return viewer.importXML(found.xml).then(function () {
        viewer.get('canvas').zoom('fit-viewport');
        if (found.state) mark(viewer, box, found.state);
        box.classList.add('diagram-ready');
      });
    }).catch(function (err) {
      box.classList.add('diagram-failed');
      var note = box.querySelector('.diagram-error');
      if (note) note.hidden = false;
      if (window.console) console.warn('diagram:', err);
    });
  }

  // A DMN file in dmn-js's viewer, opened on its (first) decision table.
  function showDecision(box) {
    var viewer = new window.DmnJS({container: box.querySelector('.diagram-canvas')});
    fetch(box.dataset.dmnUrl, {credentials: 'same-origin'}).then(function (r) {
      if (!r.ok) throw new Error(box.dataset.dmnUrl + ': ' + r.status);
      return r.text();
    }).then(function (xml) {
      return viewer.importXML(xml);
    }).then(function () {
      var table = viewer.getViews().filter(function (v) { return v.type === 'decisionTable'; })[0];
      return table ? viewer.open(table) : null;
    }).then(function () {
      box.classList.add('diagram-ready');
    }).catch(function (err) {
      box.classList.add('diagram-failed');
      box.querySelector('.diagram-error').hidden = false;
      if (window.console) console.warn('decision:', err);
    });
  }

  function init() {
    // Where the assets are not installed the page stays without diagrams.
    if (window.BpmnJS) document.querySelectorAll('[data-state-url], [data-xml-url]').forEach(show);
    if (window.DmnJS) document.querySelectorAll('[data-dmn-url]').forEach(showDecision);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
