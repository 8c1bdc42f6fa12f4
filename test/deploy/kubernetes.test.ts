/**
 * The Kubernetes manifests in deploy/kubernetes/ agree with the app: the probes point at
 * routes the app really serves (and answer 200 once the keys are loaded), every environment
 * variable they set is one the app reads, the Service, HPA and ConfigMap reference the
 * Deployment's real names, ports and labels, and the pod runs non-root on a read-only root
 * with resources and a preStop pause that fits the termination grace period.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { loadConfig } from '../../src/config.js'
import { startTestApi, type TestApi } from '../helpers/test-api.js'

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)))
const manifestDir = join(root, 'deploy/kubernetes')

interface Manifest {
  apiVersion: string
  kind: string
  metadata: { name: string; labels?: Record<string, string> }
  spec?: Record<string, unknown>
  data?: Record<string, string>
  file: string
}

interface Probe {
  httpGet?: { path?: string; port?: string | number }
}
interface ContainerPort {
  name?: string
  containerPort: number
}
interface Container {
  name: string
  image: string
  ports?: ContainerPort[]
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } }>
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string; optional?: boolean } }>
  readinessProbe?: Probe
  livenessProbe?: Probe
  startupProbe?: Probe
  lifecycle?: { preStop?: { exec?: { command?: string[] }; sleep?: { seconds?: number } } }
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> }
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean }
}
interface PodSpec {
  containers: Container[]
  terminationGracePeriodSeconds?: number
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number }
}

function loadManifests(): Manifest[] {
  const files = readdirSync(manifestDir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
  return files
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(manifestDir, file), 'utf8')).map((doc) => {
        if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`)
        return { ...(doc.toJS() as Omit<Manifest, 'file'>), file }
      })
    )
    .filter((manifest) => manifest.kind !== undefined)
}

/** The environment variable names the app reads: parsed from the sources, not restated here. */
function namesTheAppReads(): Set<string> {
  const names = new Set<string>()
  // src/config.ts names each variable as a string literal ('AUTH_ISSUER', 'PORT', ...).
  for (const match of readFileSync(join(root, 'src/config.ts'), 'utf8').matchAll(/'([A-Z][A-Z0-9_]*)'/g)) names.add(match[1] as string)
  // Elsewhere: process.env.NAME / env.NAME (NODE_ENV, DEV_ISSUER_PORT, UV_THREADPOOL_SIZE, ...).
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? walk(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []
    )
  for (const file of walk(join(root, 'src'))) {
    for (const match of readFileSync(file, 'utf8').matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g)) names.add(match[1] as string)
  }
  return names
}

/** The server's shutdown grace period (GRACE_MS in server.ts), 10 s if not found. */
function graceSeconds(): number {
  const match = /GRACE_MS\s*=\s*([\d_]+)/.exec(readFileSync(join(root, 'server.ts'), 'utf8'))
  return match === null ? 10 : Number((match[1] as string).replaceAll('_', '')) / 1000
}

const manifests = loadManifests()
const only = (kind: string): Manifest => {
  const found = manifests.filter((manifest) => manifest.kind === kind)
  expect(found, `exactly one ${kind} in deploy/kubernetes`).toHaveLength(1)
  return found[0] as Manifest
}
const deployment = only('Deployment')
const podTemplate = (deployment.spec?.template ?? {}) as { metadata?: { labels?: Record<string, string> }; spec: PodSpec }
const pod = podTemplate.spec
const api = pod.containers[0] as Container

function portNumber(port: string | number | undefined): number | undefined {
  if (typeof port === 'number') return port
  return api.ports?.find((candidate) => candidate.name === port)?.containerPort
}

describe('deploy/kubernetes manifests', () => {
  let testApi: TestApi
  beforeAll(async () => {
    testApi = await startTestApi()
  })
  afterAll(async () => {
    await testApi.close()
  })

  it('has a Deployment, Service, HorizontalPodAutoscaler and ConfigMap, one container in the pod', () => {
    expect(manifests.map((manifest) => manifest.kind)).toEqual(
      expect.arrayContaining(['Deployment', 'Service', 'HorizontalPodAutoscaler', 'ConfigMap'])
    )
    expect(pod.containers).toHaveLength(1)
    for (const manifest of manifests) expect(manifest.metadata?.name, `${manifest.file}: metadata.name`).toMatch(/^[a-z0-9-]+$/)
  })

  it('the probes point at routes the app serves: readiness /health/ready, liveness /health/live, both 200 once keys are loaded', async () => {
    expect(api.readinessProbe?.httpGet?.path).toBe('/health/ready')
    expect(api.livenessProbe?.httpGet?.path).toBe('/health/live')
    for (const probe of [api.readinessProbe, api.livenessProbe, api.startupProbe]) {
      if (probe === undefined) continue
      const path = probe.httpGet?.path as string
      const response = await testApi.app.inject({ method: 'GET', url: path })
      expect(response.statusCode, `GET ${path}`).toBe(200)
      expect(portNumber(probe.httpGet?.port), `the port of the ${path} probe is a declared container port`).toBeDefined()
    }
  })

  it('readiness answers 503 while the keys are not loaded, liveness stays 200 (an issuer outage restarts nothing)', async () => {
    const cold = await startTestApi({ waitForKeys: false })
    try {
      expect((await cold.app.inject({ url: api.readinessProbe?.httpGet?.path as string })).statusCode).toBe(503)
      expect((await cold.app.inject({ url: api.livenessProbe?.httpGet?.path as string })).statusCode).toBe(200)
    } finally {
      await cold.close()
    }
  })

  it('every environment variable set by the ConfigMap and the Deployment is one the app reads', () => {
    const known = namesTheAppReads()
    for (const required of ['AUTH_ISSUER', 'AUTH_AUDIENCE', 'PORT', 'HOST', 'LOG_LEVEL', 'NODE_ENV'])
      expect(known, 'the name scan of src/ works').toContain(required)
    const configMap = only('ConfigMap')
    const set = [...Object.keys(configMap.data ?? {}), ...(api.env ?? []).map((variable) => variable.name)]
    expect(set.length).toBeGreaterThan(0)
    for (const name of set) expect(known, `${name} is not read by the app (src/config.ts)`).toContain(name)
    expect(configMap.data, 'the required settings are in the ConfigMap').toEqual(
      expect.objectContaining({ AUTH_ISSUER: expect.any(String), AUTH_AUDIENCE: expect.any(String) })
    )
    expect(set, 'the development issuer never runs in a deployment').not.toContain('DEV_ISSUER')
    for (const name of Object.keys(configMap.data ?? {}))
      expect(name, 'secrets go in a Secret, not the ConfigMap').not.toMatch(/SECRET|PASSWORD|PRIVATE/)
  })

  it("the ConfigMap's values pass the app's own configuration check", () => {
    const env = {
      ...only('ConfigMap').data,
      ...Object.fromEntries((api.env ?? []).map((variable) => [variable.name, variable.value])),
      NODE_ENV: 'production'
    }
    const config = loadConfig(env)
    expect(config.host).toBe('0.0.0.0')
    expect(config.devIssuer).toBe(false)
  })

  it('the Deployment reads the ConfigMap by its name, and the server listens on the declared container port', () => {
    const configMap = only('ConfigMap')
    expect(api.envFrom?.map((source) => source.configMapRef?.name)).toContain(configMap.metadata.name)
    for (const source of api.envFrom ?? [])
      if (source.secretRef !== undefined) expect(source.secretRef.optional, 'a missing Secret must not stop the pod').toBe(true)
    const portVar = api.env?.find((variable) => variable.name === 'PORT')?.value ?? configMap.data?.PORT ?? '3000'
    expect(api.ports?.map((port) => port.containerPort)).toContain(Number(portVar))
    const hostVar = api.env?.find((variable) => variable.name === 'HOST')?.value ?? configMap.data?.HOST ?? '0.0.0.0'
    expect(hostVar, 'HOST must bind all interfaces in a pod (the kubelet probes the pod IP)').toBe('0.0.0.0')
  })

  it('runs as non-root (numeric uid, so the kubelet can verify it) on a read-only root filesystem', () => {
    const context = { ...pod.securityContext, ...api.securityContext }
    expect(context.runAsNonRoot).toBe(true)
    expect(context.runAsUser).toBeGreaterThan(0)
    expect(api.securityContext?.readOnlyRootFilesystem).toBe(true)
    expect(api.securityContext?.allowPrivilegeEscalation).toBe(false)
  })

  it('sets resource requests and limits (the HPA needs a CPU request)', () => {
    expect(api.resources?.requests?.cpu).toBeDefined()
    expect(api.resources?.requests?.memory).toBeDefined()
    expect(api.resources?.limits?.memory).toBeDefined()
  })

  it("pauses in preStop so load balancers drain, and the pause plus the server's grace fit the termination grace period", () => {
    const preStop = api.lifecycle?.preStop
    const pause = preStop?.sleep?.seconds ?? Number(preStop?.exec?.command?.[0] === 'sleep' ? preStop.exec.command[1] : NaN)
    expect(pause, 'preStop is a sleep (exec sleep N or sleep.seconds)').toBeGreaterThan(0)
    expect(pod.terminationGracePeriodSeconds ?? 30).toBeGreaterThan(pause + graceSeconds())
  })

  it("the Service selects the pods and targets the container's port", () => {
    const service = only('Service')
    const labels = podTemplate.metadata?.labels ?? {}
    const selector = (service.spec?.selector ?? {}) as Record<string, string>
    expect(Object.keys(selector).length).toBeGreaterThan(0)
    for (const [name, value] of Object.entries(selector)) expect(labels[name], `pod label ${name}`).toBe(value)
    const deploymentSelector = (deployment.spec?.selector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels ?? {}
    for (const [name, value] of Object.entries(deploymentSelector)) expect(labels[name], `Deployment selector ${name}`).toBe(value)
    const ports = (service.spec?.ports ?? []) as Array<{ targetPort?: string | number }>
    expect(ports.length).toBeGreaterThan(0)
    for (const port of ports) expect(portNumber(port.targetPort), `Service targetPort ${String(port.targetPort)}`).toBeDefined()
  })

  it('the replicas share PostgreSQL through a Secret holding DATABASE_URL (never a ConfigMap), with a bounded pool', () => {
    const database = api.env?.find((variable) => variable.name === 'DATABASE_URL')
    expect(database?.value, 'DATABASE_URL holds a password: not a plain value').toBeUndefined()
    const ref = database?.valueFrom?.secretKeyRef
    expect(ref, 'DATABASE_URL comes from a Secret').toEqual(expect.objectContaining({ name: expect.any(String), key: 'DATABASE_URL' }))
    expect(ref?.optional, 'without it a pod would fall back to an embedded file on a read-only root').not.toBe(true)
    expect(Object.keys(only('ConfigMap').data ?? {})).not.toContain('DATABASE_URL')
    // the demo (postgres-demo/) provides that Secret, with a URL the app accepts, naming the demo's Service
    const demo = parseAllDocuments(readFileSync(join(manifestDir, 'postgres-demo/postgres.yaml'), 'utf8')).map(
      (doc) => doc.toJS() as Manifest & { stringData?: Record<string, string> }
    )
    const secret = demo.find((manifest) => manifest.kind === 'Secret' && manifest.metadata.name === ref?.name)
    const url = secret?.stringData?.[ref?.key ?? '']
    expect(url, `postgres-demo/ has the Secret ${ref?.name}`).toBeDefined()
    const config = loadConfig({ ...only('ConfigMap').data, DATABASE_URL: url as string })
    expect(config.database.engine).toBe('postgres')
    const host = new URL(url as string).hostname
    expect(
      demo.some((manifest) => manifest.kind === 'Service' && manifest.metadata.name === host),
      `a Service named ${host}`
    ).toBe(true)
    expect(demo.some((manifest) => manifest.kind === 'StatefulSet')).toBe(true)
    // every pod's pool at the HPA's maximum fits PostgreSQL's default max_connections (100), with room to spare
    const pool = config.database.engine === 'postgres' ? config.database.poolSize : 0
    const { maxReplicas } = only('HorizontalPodAutoscaler').spec as { maxReplicas: number }
    expect(pool * maxReplicas).toBeLessThanOrEqual(90)
  })

  it('the HorizontalPodAutoscaler scales this Deployment with at least two replicas', () => {
    const hpa = only('HorizontalPodAutoscaler')
    expect(hpa.apiVersion).toBe('autoscaling/v2')
    const spec = hpa.spec as { scaleTargetRef: { kind: string; name: string }; minReplicas: number; maxReplicas: number }
    expect(spec.scaleTargetRef).toEqual(expect.objectContaining({ kind: 'Deployment', name: deployment.metadata.name }))
    expect(spec.minReplicas).toBeGreaterThanOrEqual(2)
    expect(spec.maxReplicas).toBeGreaterThan(spec.minReplicas)
  })
})
