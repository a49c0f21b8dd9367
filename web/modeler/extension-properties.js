// The Gridloop properties of an element: <spiffworkflow:property name= value=> inside
// <bpmn:extensionElements><spiffworkflow:properties>, as engine/definitions.py reads them.
// A pool's properties are its process's (where the process-level properties live).

export function holderOf(element) {
  const bo = element.businessObject;
  return bo.$type === 'bpmn:Participant' && bo.processRef ? bo.processRef : bo;
}

function propertiesElement(bo) {
  const ext = bo.extensionElements;
  return ext && (ext.values || []).find((v) => v.$type === 'spiffworkflow:Properties');
}

export function getProperty(element, name) {
  const props = propertiesElement(holderOf(element));
  const found = props && (props.values || []).find((p) => p.name === name);
  return found ? found.value || '' : '';
}

// One undoable command: the properties element (and extensionElements) are created when
// missing, a property set to '' is removed.
export function setProperty(injector, element, name, value) {
  const moddle = injector.get('moddle'), commandStack = injector.get('commandStack');
  const bo = holderOf(element);
  const changes = [];
  let ext = bo.extensionElements;
  if (!ext) {
    ext = moddle.create('bpmn:ExtensionElements', {values: []});
    ext.$parent = bo;
    changes.push({element, moddleElement: bo, properties: {extensionElements: ext}});
  }
  let props = propertiesElement(bo);
  if (!props) {
    props = moddle.create('spiffworkflow:Properties', {values: []});
    props.$parent = ext;
    changes.push({element, moddleElement: ext, properties: {values: [...(ext.values || []), props]}});
  }
  const existing = (props.values || []).find((p) => p.name === name);
  if (!value) {
    if (!existing) return;
    changes.push({element, moddleElement: props, properties: {values: props.values.filter((p) => p !== existing)}});
  } else if (existing) {
    changes.push({element, moddleElement: existing, properties: {value}});
  } else {
    const created = moddle.create('spiffworkflow:Property', {name, value});
    created.$parent = props;
    changes.push({element, moddleElement: props, properties: {values: [...(props.values || []), created]}});
  }
  const stack = changes.map((context) => ({cmd: 'element.updateModdleProperties', context}));
  commandStack.execute('properties-panel.multi-command-executor', stack);
}
