// Shows, hides and marks a form's fields from its own JSON Schema (the data-schema of the .form-schema
// that web/templates/_form.html embeds): a property that some if/then/else branch names applies
// only while one of those branches holds; everything a holding branch requires gets its asterisk.
// On submit, every field missing now is marked at once. The server validates the same schema.
(function () {
  "use strict";

  function isObject(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }

  function equal(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

  // The subset of JSON Schema that if-conditions use: const, enum, required, properties, not,
  // allOf, anyOf; other keywords hold (the server decides for real).
  function matches(schema, value) {
    if (schema === true || schema === undefined) { return true; }
    if (schema === false) { return false; }
    if ("const" in schema && !equal(schema.const, value)) { return false; }
    if (schema.enum && !schema.enum.some(function (e) { return equal(e, value); })) { return false; }
    if (isObject(value)) {
      if ((schema.required || []).some(function (n) { return !(n in value); })) { return false; }
      var props = schema.properties || {};
      for (var name in props) {
        if (name in value && !matches(props[name], value[name])) { return false; }
      }
    }
    if (schema.not && matches(schema.not, value)) { return false; }
    if (schema.allOf && !schema.allOf.every(function (s) { return matches(s, value); })) { return false; }
    if (schema.anyOf && !schema.anyOf.some(function (s) { return matches(s, value); })) { return false; }
    return true;
  }

  function mentions(sub, name) {
    return (sub.required || []).indexOf(name) >= 0 || (isObject(sub.properties) && name in sub.properties);
  }

  // path -> {applies, required} for every property, nested objects included.
  function walk(schema, data, prefix, overlays, applies, out) {
    var branches = [schema].concat(schema.allOf || []).filter(function (b) { return isObject(b) && "if" in b; });
    var active = [], named = [];
    branches.forEach(function (b) {
      var holds = matches(b.if, data);
      [["then", b.then], ["else", b.else]].forEach(function (pair) {
        if (!isObject(pair[1])) { return; }
        named.push(pair[1]);
        if ((pair[0] === "then") === holds) { active.push(pair[1]); }
      });
    });
    active = active.concat(overlays);
    var required = (schema.required || []).slice();
    active.forEach(function (s) { required = required.concat(s.required || []); });
    var props = schema.properties || {};
    Object.keys(props).forEach(function (name) {
      var branchOnly = named.some(function (s) { return mentions(s, name); });
      var here = applies && (!branchOnly || active.some(function (s) { return mentions(s, name); }));
      out[prefix + name] = {applies: here, required: here && required.indexOf(name) >= 0};
      if (props[name] && props[name].type === "object") {
        var nested = active.map(function (s) { return (s.properties || {})[name]; }).filter(isObject);
        walk(props[name], isObject(data[name]) ? data[name] : {}, prefix + name + ".", nested, here, out);
      }
    });
  }

  function propertyAt(schema, path) {
    var node = schema;
    path.split(".").forEach(function (part) { node = node && (node.properties || {})[part]; });
    return node || {};
  }

  function convert(prop, raw) {
    var type = prop.type || (prop.anyOf && prop.anyOf[0].type);
    if (type === "boolean") { return raw === "true"; }
    if ((type === "integer" || type === "number") && raw !== "" && !isNaN(Number(raw))) { return Number(raw); }
    return raw;
  }

  // The answers so far, as the server would parse them (blanks left out).
  function answers(form, schema) {
    var data = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.name === "csrf_token" || el.disabled) { return; }
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) { return; }
      var raw = (el.value || "").trim();
      if (!raw) { return; }
      var parts = el.name.split("."), node = data;
      parts.slice(0, -1).forEach(function (p) { node = node[p] = isObject(node[p]) ? node[p] : {}; });
      var value = convert(propertyAt(schema, el.name), raw), last = parts[parts.length - 1];
      if (el.type === "checkbox" && el.value !== "true") {
        node[last] = (node[last] || []).concat([value]);
      } else {
        node[last] = value;
      }
    });
    return data;
  }

  function filled(box) {
    return Array.prototype.some.call(box.querySelectorAll("input, select, textarea"), function (el) {
      return (el.type === "radio" || el.type === "checkbox") ? el.checked : (el.value || "").trim() !== "";
    });
  }

  function setup(form, script) {
    var schema = JSON.parse(script.getAttribute("data-schema")), message = script.getAttribute("data-required");
    var boxes = form.querySelectorAll("[data-field]");
    var state = {};

    function update() {
      state = {};
      walk(schema, answers(form, schema), "", [], true, state);
      Array.prototype.forEach.call(boxes, function (box) {
        var s = state[box.getAttribute("data-field")];
        if (!s) { return; }
        box.hidden = !s.applies;
        var mark = box.querySelector("abbr.req");  // its own label's or legend's: they come first
        if (mark) { mark.hidden = !s.required; }
      });
      // Hidden fields are not sent: they do not apply to the answers given.
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name && el.name !== "csrf_token") { el.disabled = !!el.closest("[hidden]"); }
      });
    }

    function missing() {
      var first = null;
      Array.prototype.forEach.call(boxes, function (box) {
        var name = box.getAttribute("data-field"), s = state[name];
        var old = box.querySelector(":scope > .field-error.client");
        if (old) { old.remove(); }
        if (!s || !s.required || box.classList.contains("group") || filled(box)) { return; }
        first = first || box;
        if (box.querySelector(":scope > .field-error")) { return; }  // the server's says so already
        var note = document.createElement("span");
        note.className = "field-error client";
        note.id = name + "-error";  // as the server names it
        note.textContent = message;
        box.appendChild(note);
        box.classList.add("invalid");
      });
      return first;
    }

    form.addEventListener("change", update);
    form.addEventListener("input", update);
    form.addEventListener("submit", function (event) {
      update();
      var first = missing();
      if (first) {
        event.preventDefault();
        var input = first.querySelector("input, select, textarea");
        if (input) { input.focus(); }
      }
    });
    update();
  }

  document.querySelectorAll("div.form-schema[data-schema]").forEach(function (script) {
    var form = script.closest("form");
    if (form) { setup(form, script); }
  });
}());
