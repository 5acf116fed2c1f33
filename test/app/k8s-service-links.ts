/**
 * The environment Kubernetes injects into every pod of a namespace when a
 * Service named `sluice` exists (enableServiceLinks, on by default): the
 * Docker-links form of each port (Kubernetes docs, "Services: Environment
 * variables"). The first port is the unsuffixed SLUICE_SERVICE_PORT and
 * SLUICE_PORT; named ports also get SLUICE_SERVICE_PORT_<NAME>.
 */
const SERVICE_IP = '10.0.0.1';
const PORTS = [
  { name: 'RTMP', port: 1935 },
  { name: 'HTTP', port: 8000 },
  { name: 'ADMIN', port: 8001 },
] as const;

export function sluiceServiceLinks(): Record<string, string> {
  const first = PORTS[0].port;
  const env: Record<string, string> = {
    SLUICE_SERVICE_HOST: SERVICE_IP,
    SLUICE_SERVICE_PORT: String(first),
    SLUICE_PORT: `tcp://${SERVICE_IP}:${first}`,
  };
  for (const { name, port } of PORTS) {
    env[`SLUICE_SERVICE_PORT_${name}`] = String(port);
    env[`SLUICE_PORT_${port}_TCP`] = `tcp://${SERVICE_IP}:${port}`;
    env[`SLUICE_PORT_${port}_TCP_PROTO`] = 'tcp';
    env[`SLUICE_PORT_${port}_TCP_PORT`] = String(port);
    env[`SLUICE_PORT_${port}_TCP_ADDR`] = SERVICE_IP;
  }
  return env;
}
