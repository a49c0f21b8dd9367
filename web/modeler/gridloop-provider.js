// The "Gridloop" group of the properties panel: the properties the engine reads from a
// task, lane, timer, message catch or process (see docs/modelling.md), written as the same
// spiffworkflow:property extension elements. Labels, roles and the draft's form files come
// from the page (config.gridloop).
import {
  SelectEntry, TextAreaEntry, TextFieldEntry,
  isSelectEntryEdited, isTextAreaEntryEdited, isTextFieldEntryEdited,
} from '@bpmn-io/properties-panel';
import {h} from '@bpmn-io/properties-panel/preact';
import {useService} from 'bpmn-js-properties-panel';
import {is} from 'bpmn-js/lib/util/ModelUtil';

import {getProperty, setProperty} from './extension-properties';

const OVERDUE_MODES = ['', 'always', 'unclaimed', 'case'];

function timerOf(element) {
  const bo = element.businessObject;
  return (bo.eventDefinitions || []).find((d) => is(d, 'bpmn:TimerEventDefinition'));
}

function propertyEntry(config, name, extra = {}) {
  return {
    id: `gridloop-${name}`,
    isEdited: isTextFieldEntryEdited,
    component: function PropertyField(props) {
      const injector = useService('injector'), debounce = useService('debounceInput');
      return h(TextFieldEntry, {
        element: props.element, id: props.id, debounce,
        label: config.labels[name] || name, description: config.hints[name],
        getValue: (element) => getProperty(element, name),
        setValue: (value) => setProperty(injector, props.element, name, (value || '').trim()),
        ...extra,
      });
    },
  };
}

// A select of the group; `write` gets the injector, the element and the chosen value.
function selectEntry(config, name, read, options, write) {
  return {
    id: `gridloop-${name}`,
    isEdited: isSelectEntryEdited,
    component: function SelectField(props) {
      const injector = useService('injector');
      return h(SelectEntry, {
        element: props.element, id: props.id, label: config.labels[name], description: config.hints[name],
        getValue: read, getOptions: options,
        setValue: (value) => write(injector, props.element, value),
      });
    },
  };
}

function lanesOf(registry) {
  return registry.filter((e) => is(e, 'bpmn:Lane') && !(e.children || []).some((c) => is(c, 'bpmn:Lane')));
}

// A user task's lane is where its shape lies: choosing another lane moves the shape into it
// (bpmn-js then updates the lanes' flowNodeRefs).
function laneEntry(config, registry) {
  const laneOf = (element) => lanesOf(registry).find(
    (lane) => (lane.businessObject.flowNodeRef || []).includes(element.businessObject));
  return selectEntry(config, 'lane', (element) => (laneOf(element) || {id: ''}).id,
    () => [{value: '', label: config.labels.no_lane},
      ...lanesOf(registry).map((lane) => ({value: lane.id, label: lane.businessObject.name || lane.id}))],
    (injector, shape, laneId) => {
      const lane = registry.get(laneId);
      if (!lane) return;
      const dy = lane.y + lane.height / 2 - (shape.y + shape.height / 2);
      const dx = Math.max(lane.x + 40 - shape.x, 0) + Math.min(lane.x + lane.width - 10 - (shape.x + shape.width), 0);
      injector.get('modeling').moveElements([shape], {x: dx, y: dy}, lane);
    });
}

function roleEntry(config) {
  return selectEntry(config, 'role', (element) => element.businessObject.name || '',
    (element) => [...new Set(['', ...config.roles, element.businessObject.name || ''])]
      .map((role) => ({value: role, label: role || '—'})),
    (injector, lane, role) => injector.get('modeling').updateProperties(lane, {name: role}));
}

function formEntries(config, property) {
  const nameEntry = propertyEntry(config, property, {
    validate: (value) => (value && !/^[A-Za-z0-9_][A-Za-z0-9_.-]*\.json$/.test(value) ? config.labels.bad_form : null),
  });
  const jsonEntry = {
    id: `gridloop-${property}-json`,
    isEdited: isTextAreaEntryEdited,
    component: function FormJson(props) {
      const debounce = useService('debounceInput');
      const form = getProperty(props.element, property);
      if (!form) return null;
      return h(TextAreaEntry, {  // not the JSON editor: CodeMirror adds <style> elements the CSP refuses
        element: props.element, id: props.id, debounce, rows: 12, monospace: true,
        label: config.labels.form_json.replace('{form}', form),
        getValue: () => config.forms.get(form),
        setValue: (text) => config.forms.set(form, text),
        validate: (text) => { try { JSON.parse(text); return null; } catch (err) { return err.message; } },
      });
    },
  };
  return [nameEntry, jsonEntry];
}

function timerEntries(config) {
  return [
    {
      id: 'gridloop-timer',
      isEdited: isTextFieldEntryEdited,
      component: function TimerField(props) {
        const modeling = useService('modeling'), moddle = useService('moddle'), debounce = useService('debounceInput');
        const timer = timerOf(props.element);
        const kind = ['timeDuration', 'timeDate', 'timeCycle'].find((k) => timer[k]) || 'timeDuration';
        return h(TextFieldEntry, {
          element: props.element, id: props.id, debounce,
          label: config.labels[kind], description: config.hints.timer,
          getValue: () => (timer[kind] ? timer[kind].body || '' : ''),
          setValue: (value) => modeling.updateModdleProperties(props.element, timer, {
            [kind]: moddle.create('bpmn:FormalExpression', {body: value || ''})}),
        });
      },
    },
    selectEntry(config, 'marksOverdue', (element) => getProperty(element, 'marksOverdue'),
      () => OVERDUE_MODES.map((mode) => ({value: mode, label: config.labels['overdue_' + (mode || 'none')]})),
      (injector, element, mode) => setProperty(injector, element, 'marksOverdue', mode)),
  ];
}

function entriesFor(element, config, registry) {
  const bo = element.businessObject;
  if (is(bo, 'bpmn:UserTask') || is(bo, 'bpmn:ManualTask')) {
    return [laneEntry(config, registry), propertyEntry(config, 'nameZh'), ...formEntries(config, 'formJsonSchemaFilename'),
      propertyEntry(config, 'dueIn'), propertyEntry(config, 'candidateOrgUnit'),
      propertyEntry(config, 'candidateDepartment'), propertyEntry(config, 'stage'), propertyEntry(config, 'priority')];
  }
  if (is(bo, 'bpmn:Process') || (is(bo, 'bpmn:Participant') && bo.processRef)) {
    return [propertyEntry(config, 'nameZh'), propertyEntry(config, 'starters'),
      ...formEntries(config, 'startFormJsonSchemaFilename'), propertyEntry(config, 'laneMap')];
  }
  if (is(bo, 'bpmn:Lane')) return [roleEntry(config)];
  if (is(bo, 'bpmn:CatchEvent') && timerOf(element)) return timerEntries(config);
  if (is(bo, 'bpmn:CatchEvent') && (bo.eventDefinitions || []).some((d) => is(d, 'bpmn:MessageEventDefinition') || is(d, 'bpmn:SignalEventDefinition'))) {
    return [propertyEntry(config, 'senders')];
  }
  return [];
}

export default function GridloopPropertiesProvider(propertiesPanel, elementRegistry, config) {
  this.getGroups = function (element) {
    return function (groups) {
      const entries = entriesFor(element, config, elementRegistry).map((entry) => ({...entry, element}));
      if (entries.length) groups.splice(1, 0, {id: 'gridloop', label: config.labels.group, entries});
      return groups;
    };
  };
  propertiesPanel.registerProvider(400, this);
}

GridloopPropertiesProvider.$inject = ['propertiesPanel', 'elementRegistry', 'config.gridloop'];
