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

// A user task's lane is where its shape lies: choosing another lane moves the shape into it
// (bpmn-js then updates the lanes' flowNodeRefs).
function laneEntry(config) {
  return {
    id: 'gridloop-lane',
    isEdited: isSelectEntryEdited,
    component: function LaneField(props) {
      const registry = useService('elementRegistry'), modeling = useService('modeling');
      const lanes = () => registry.filter((e) => is(e, 'bpmn:Lane') && !(e.children || []).some((c) => is(c, 'bpmn:Lane')));
      const laneOf = (element) => lanes().find((lane) => (lane.businessObject.flowNodeRef || []).includes(element.businessObject));
      return h(SelectEntry, {
        element: props.element, id: props.id, label: config.labels.lane, description: config.hints.lane,
        getValue: (element) => (laneOf(element) || {id: ''}).id,
        getOptions: () => [{value: '', label: config.labels.no_lane},
          ...lanes().map((lane) => ({value: lane.id, label: lane.businessObject.name || lane.id}))],
        setValue: (laneId) => {
          const lane = registry.get(laneId), shape = props.element;
          if (!lane) return;
          const dy = lane.y + lane.height / 2 - (shape.y + shape.height / 2);
          const dx = Math.max(lane.x + 40 - shape.x, 0) + Math.min(lane.x + lane.width - 10 - (shape.x + shape.width), 0);
          modeling.moveElements([shape], {x: dx, y: dy}, lane);
        },
      });
    },
  };
}

function roleEntry(config) {
  return {
    id: 'gridloop-role',
    isEdited: isSelectEntryEdited,
    component: function RoleField(props) {
      const modeling = useService('modeling');
      return h(SelectEntry, {
        element: props.element, id: props.id, label: config.labels.role, description: config.hints.role,
        getValue: (element) => element.businessObject.name || '',
        getOptions: (element) => {
          const names = new Set(['', ...config.roles, element.businessObject.name || '']);
          return [...names].map((role) => ({value: role, label: role || '—'}));
        },
        setValue: (role) => modeling.updateProperties(props.element, {name: role}),
      });
    },
  };
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
    {
      id: 'gridloop-marksOverdue',
      isEdited: isSelectEntryEdited,
      component: function OverdueField(props) {
        const injector = useService('injector');
        return h(SelectEntry, {
          element: props.element, id: props.id, label: config.labels.marksOverdue, description: config.hints.marksOverdue,
          getValue: (element) => getProperty(element, 'marksOverdue'),
          getOptions: () => OVERDUE_MODES.map((mode) => ({value: mode, label: config.labels['overdue_' + (mode || 'none')]})),
          setValue: (mode) => setProperty(injector, props.element, 'marksOverdue', mode),
        });
      },
    },
  ];
}

function entriesFor(element, config) {
  const bo = element.businessObject;
  if (is(bo, 'bpmn:UserTask') || is(bo, 'bpmn:ManualTask')) {
    return [laneEntry(config), propertyEntry(config, 'nameZh'), ...formEntries(config, 'formJsonSchemaFilename'),
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

export default function GridloopPropertiesProvider(propertiesPanel, config) {
  this.getGroups = function (element) {
    return function (groups) {
      const entries = entriesFor(element, config).map((entry) => ({...entry, element}));
      if (entries.length) groups.splice(1, 0, {id: 'gridloop', label: config.labels.group, entries});
      return groups;
    };
  };
  propertiesPanel.registerProvider(400, this);
}

GridloopPropertiesProvider.$inject = ['propertiesPanel', 'config.gridloop'];
