// The modeler bundle (built by `make assets` with esbuild from node_modules, never committed):
// bpmn-js's Modeler with the official properties panel, its BPMN provider and the Gridloop
// provider, as window.GridloopModeler(options) for web/static/modeler.js.
import Modeler from 'bpmn-js/lib/Modeler';
import {BpmnPropertiesPanelModule, BpmnPropertiesProviderModule} from 'bpmn-js-properties-panel';

import GridloopPropertiesProvider from './gridloop-provider';
import spiffworkflow from './spiffworkflow.json';

const GridloopProviderModule = {
  __init__: ['gridloopPropertiesProvider'],
  gridloopPropertiesProvider: ['type', GridloopPropertiesProvider],
};

window.GridloopModeler = function (options) {
  return new Modeler({
    ...options,
    additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, GridloopProviderModule],
    moddleExtensions: {spiffworkflow},
  });
};
