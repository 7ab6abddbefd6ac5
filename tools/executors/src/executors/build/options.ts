import { z } from 'zod';

export const schema = z.strictObject({}).meta({
  title: 'Build a component',
  description: 'Builds the component declared in <projectRoot>/component.json with its toolchain preset (node, vite, go, cargo) into dist/build/<project>/root and writes dist/build/<project>/build.json. The version is VEZA_RELEASE_SHA, else HEAD of a clean checkout, else local-<12 hex>.',
});
