// The relay's config schema in TypeBox, with defaults and descriptions: the source of the generated check the relay starts with (relay-config-check.generated.ts) and of its error messages.
import { Type as T, type Static } from "@sinclair/typebox";
import "../config/formats.ts";
import { Duration, WAIT_FLOOR } from "../config/schema.ts";


const Sha256 = T.String({ pattern: "^[0-9a-f]{64}$", description: "sha256 of the token, lower-case hex (see `relay hash-token`)." });
const TunnelId = T.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", description: "The tunnel id in /t/ID/... URLs." });

export const RelayTunnelSchema = T.Object(
  {
    id: TunnelId,
    agent_token_sha256: T.Optional(Sha256),
    client_key_sha256: T.Array(Sha256, { default: [], description: "Hashed keys cloud clients use for /t/ID/..." }),
    subject: T.String({ default: "", description: "JWT subject that owns this tunnel (agent and clients); empty: none." }),
    allowed_origins: T.Array(T.String(), { default: [], description: "Narrows [cors] allowed_origins for this tunnel to these origins (each allowed by [cors] too), on every route to it (/t/ID/..., /me/..., /ollama/...); empty: the [cors] list." }),
  },
  { additionalProperties: false },
);

export const RelayConfigSchema = T.Object(
  {
    listen: T.String({ default: "127.0.0.1:8080", format: "c2l-listen", description: "Address to listen on; use 0.0.0.0:443 with [tls] or a loopback port behind a reverse proxy." }),
    agent_path: T.String({ default: "/agent", pattern: "^/[A-Za-z0-9/_-]*$", description: "WebSocket path agents connect to." }),
    admin_token_sha256: T.String({ default: "", pattern: "^([0-9a-f]{64})?$", description: "Hashed token for GET /api/tunnels; empty disables the listing." }),
    first_byte_timeout: Duration("120s", "504 when the agent sent no response head within this time (model loading can be slow). Streams are never cut afterwards.", WAIT_FLOOR("every request would time out before its answer could start")),
    handshake_timeout: Duration("10s", "Time an agent has to send HELLO after connecting."),
    go_away_grace: Duration("30s", "On shutdown, time in-flight streams get to finish."),
    resume_window: Duration("60s", "A client's answer whose agent connection ended is kept open this long for the agent to resume it; 0 turns resuming off."),
    tls: T.Object(
      {
        cert_file: T.String({ default: "", description: "PEM certificate chain; empty: plain HTTP (behind a TLS-terminating proxy)." }),
        key_file: T.String({ default: "", description: "PEM private key." }),
      },
      { additionalProperties: false, default: {} },
    ),
    heartbeat: T.Object(
      {
        interval: Duration("10s", "Time between pings to each agent."),
        tolerance: Duration("15s", "Silence after which an agent is declared gone."),
      },
      { additionalProperties: false, default: {} },
    ),
    limits: T.Object(
      {
        max_streams: T.Integer({ default: 64, minimum: 1, description: "Concurrent requests per tunnel (or the agent's own [tunnel] max_streams, named in its HELLO, when lower); more wait up to 2 s for a stream, then get 429 (503 at the agent's limit)." }),
        max_streams_per_client: T.Integer({
          default: 0,
          minimum: 0,
          description: "Concurrent requests one cloud client (a gateway key, else a client key or a JWT subject) may hold on a tunnel; more get 429, so one client cannot shut the tunnel's others out. 0: max_streams less a quarter of it.",
        }),
        max_body_bytes: T.Integer({ default: 104857600, minimum: 0, description: "Largest request body per request, in bytes; bigger gets 413." }),
        requests_per_minute: T.Integer({ default: 600, minimum: 1, description: "Requests per tunnel per minute; more get 429." }),
        requests_per_minute_per_client: T.Integer({
          default: 0,
          minimum: 0,
          description: "Requests per minute one cloud client (as for max_streams_per_client) may make on a tunnel; more get 429, so one client cannot spend the tunnel's minute. 0: requests_per_minute less a quarter.",
        }),
        idle_timeout: Duration(
          "30s",
          "How long a client's connection may stay silent (1s to 255s) until a call of it is admitted (its key accepted): one trickling its request head (slowloris) is closed then, and an answer to a call that is not admitted closes its connection. An admitted call through a tunnel is never cut by it, nor is an idle keep-alive connection a reverse proxy may reuse; \"0s\": no limit.",
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    oidc: T.Object(
      {
        issuer: T.String({ default: "", description: "OpenID issuer whose JWTs are accepted (agents and clients); empty: static tokens only." }),
        audience: T.String({ default: "", description: "Required audience of those JWTs." }),
        jwks_url: T.String({ default: "", description: "JWKS URL; empty: the jwks_uri of the issuer's discovery document (<issuer>/.well-known/openid-configuration)." }),
        chat_client_id: T.String({ default: "", description: "Public client id (no secret; authorization code + PKCE) the /chat page signs in with at the issuer; its redirect URI is https://RELAY/chat. Empty: the page takes a pasted client key only." }),
        jwks_cooldown: Duration("2s", "Minimum time between JWKS refetches when a token names an unknown key id (a key rotation); such a request waits for the refetch."),
      },
      { additionalProperties: false, default: {} },
    ),
    cors: T.Object(
      {
        allowed_origins: T.Array(T.String(), {
          default: [],
          description: "Web app origins whose pages may call the relay from a browser (https://app.example.com, or https://*.example.com for its subdomains); \"*\" is refused. Empty: no browser page on another origin can read an answer.",
        }),
      },
      { additionalProperties: false, default: {}, description: "Cross-origin calls from web pages (docs/relay.md, Calling the relay from a web app)." },
    ),
    tunnels: T.Array(RelayTunnelSchema, { default: [], description: "Tunnels with static tokens, or bound to a JWT subject." }),
    cluster: T.Object(
      {
        redis_url: T.String({ default: "", description: "Redis that the relay nodes share: redis://[[user]:password@]host:port/db (requirepass or an ACL user), rediss:// for TLS; empty: a single relay, no cluster." }),
        redis_ca_file: T.String({ default: "", description: "With rediss://: a CA certificate (PEM) to trust for Redis, added to the system's; certificates are always verified." }),
        redis_cert_file: T.String({ default: "", description: "With rediss://: a client certificate (PEM) for Redis servers that require one (tls-auth-clients); needs redis_key_file." }),
        redis_key_file: T.String({ default: "", description: "The private key (PEM) of redis_cert_file." }),
        node_id: T.String({ default: "", pattern: "^[A-Za-z0-9_.:-]*$", description: "This node's name in the cluster; empty: hostname and process id." }),
        internal_listen: T.String({ default: "127.0.0.1:8081", format: "c2l-listen", description: "Node-to-node listener: other nodes forward requests for tunnels this node holds here." }),
        advertise_url: T.String({ default: "", description: "How other nodes reach internal_listen (http://10.0.0.5:8081); empty: http://internal_listen (which must then not be a wildcard address)." }),
        shared_secret_file: T.String({ default: "", description: "File with the secret (at least 32 bytes) that signs node-to-node requests (HMAC-SHA256); the same on every node. Required with redis_url." }),
        lease_ttl: Duration("10s", "How long a node's claim on a tunnel lasts without renewal (renewed every third of it while the agent is connected)."),
        node_ttl: Duration("6s", "How long a node counts as alive after its last heartbeat (sent every third of it)."),
        drain_delay: Duration("2s", "On SIGTERM the node answers 503 on /readyz at once but keeps serving and forwarding this long before it sends its agents away and stops listening, so the load balancer's health check takes it out first. Longer than the balancer needs to notice (check interval × fall)."),
        redis_timeout: Duration("1s", "Longest wait for one Redis command; after it Redis counts as down (local tunnels keep working, limits fall back to per node)."),
      },
      { additionalProperties: false, default: {}, description: "Several relay nodes on one Redis: any node reaches any tunnel (docs/relay-cluster.md)." },
    ),
  },
  { additionalProperties: false },
);

export type RelayConfig = Static<typeof RelayConfigSchema>;
