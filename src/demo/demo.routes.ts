import { Router } from 'express';
import { z } from 'zod';
import { validate, valid } from '../shared/http.js';
import { views } from '../shared/views.js';

const demoQuery = z.object({
  embed_token: z.string().regex(/^ew_[A-Za-z0-9_-]{10,100}$/, 'must be an embed token (ew_…)'),
});

/** A stand-in customer page that embeds the widget with the given token. */
export function demoRoutes({ publicUrl }: { publicUrl: string }): Router {
  const router = Router();
  router.get('/demo', validate('query', demoQuery), (req, res) => {
    const { embed_token } = valid(req, 'query', demoQuery);
    res.type('html').send(views.render('demo', { token: embed_token, publicUrl }));
  });
  return router;
}
