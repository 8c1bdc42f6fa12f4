// The bare-Fastify reference (issue 19): Fastify 5 and nothing else, serving the API's
// GET /health/live with the same body and the same response schema (so the same
// fast-json-stringify serializer): no logger, no hooks, no plugins. bench/run.ts measures the
// API's own /health/live against this one, interleaved in one-second slices, to show what the
// API's hooks and plugins cost every request. Env: PORT.
import process from 'node:process'
import Fastify from 'fastify'

const app = Fastify()

const HealthSchema = {
  type: 'object',
  properties: { status: { type: 'string' }, keys: { type: 'integer' } },
  required: ['status']
}

app.get('/health/live', { schema: { response: { 200: HealthSchema } } }, async () => ({ status: 'ok' }))

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
process.stdout.write('listening\n')
