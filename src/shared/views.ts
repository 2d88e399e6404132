import { Eta } from 'eta';
import { paths } from './paths.js';

/** Server-rendered pages. Eta escapes every `<%= %>` by default, so user text never becomes HTML. */
export const views = new Eta({
  views: paths.views,
  cache: process.env.NODE_ENV !== 'development',
  autoEscape: true,
});
