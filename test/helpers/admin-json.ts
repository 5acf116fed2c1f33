/** Shapes of the admin API's JSON (/api/v1/clients), as tests read them. */
export interface ClientJson {
  id: string;
  protocol: string;
  peer: string;
  worker: number;
  role: string;
  stream: string | null;
  bytesIn: number;
  bytesOut: number;
  since: string;
}
