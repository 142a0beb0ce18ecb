import { Hono } from 'hono/tiny';
import type { AppEnv } from './app-env';
import { ApiError, errorResponse } from './http/errors';
import { configured, context, customer, generation, limitBody } from './http/middleware';
import { account } from './routes/account';
import { admin } from './routes/admin';
import { catalog } from './routes/catalog';
import { images } from './routes/images';
import { media } from './routes/media';
import { videos } from './routes/videos';

const MiB = 1024 * 1024;

export const app = new Hono<AppEnv>();

app.use(context);
app.get('/healthz', (c) => c.json({ status: 'ok' }));
app.use(configured);

app.use('/v1/images/*', limitBody(MiB), generation);
// `/v1/videos/*` also matches `/v1/videos` itself.
app.use('/v1/videos/*', limitBody(32 * MiB), generation);
app.use('/v1/account', customer);
app.use('/admin/*', limitBody(64 * 1024));

app.route('/v1', catalog);
app.route('/v1', account);
app.route('/v1', images);
app.route('/v1', media);
app.route('/v1', videos);
app.route('/admin', admin);

app.notFound(() => new ApiError(404, 'not_found', 'Unknown route').toResponse());
app.onError((err) => errorResponse(err));
