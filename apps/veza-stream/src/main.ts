import declaration from '../component.json';
import { runComponent } from '@veza/component-runtime/runtime';
import { createStreamServer } from './server';

void runComponent(declaration.name, declaration.run.port, (cfg) => createStreamServer(cfg));
