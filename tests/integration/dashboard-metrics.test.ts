/**
 * The Grafana dashboard (deploy/grafana/dashboards/switchboard.json) against live nodes: two
 * nodes on one redis-server get traffic (sockets on both, a room message crossing nodes, a
 * refused handshake and command, REST calls, a notification acknowledged), then every metric
 * name the dashboard's PromQL reads must be on their /metrics — declared, and with samples
 * (histogram buckets included) unless it counts something that did not happen. The deliveries the
 * dashboard charts are checked against what the clients received.
 */
import { closeClients, command, connect, connectRefused, nextEvent } from "../helpers/clients";
import { clusterFixture, collect } from "../helpers/cluster";
import { dashboardMetricNames } from "../helpers/dashboard";
import { metricValue, scrape } from "../helpers/metrics";
import { waitFor } from "../helpers/ports";

/** Counted only when it happens: no sample while Redis is healthy. */
const ONLY_WHEN_IT_HAPPENS = new Set(["switchboard_redis_errors_total"]);

/** The metric families a Prometheus text declares (`# TYPE name kind`). */
function declaredFamilies(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/** Whether `name` is a declared family, or a histogram's `_bucket`, `_sum` or `_count` series. */
function isDeclared(families: Map<string, string>, name: string): boolean {
  if (families.has(name)) return true;
  const base = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
  return base !== undefined && ["histogram", "summary"].includes(families.get(base) ?? "");
}

const hasSamples = (text: string, name: string) => new RegExp(`^${name}(\\{|\\s)`, "m").test(text);

describe("the Grafana dashboard's metrics on live nodes (redis engine)", () => {
  const { url, rest, unique } = clusterFixture({ backing: "redis", nodes: 2, env: { NOTIFY_ACK_GRACE_MS: "1500" } });
  afterEach(() => closeClients());

  /** A metric summed over both nodes (a series absent on a node counts 0). */
  const onNodes = async (name: string, labels: Record<string, string> = {}) => {
    let total = 0;
    for (const i of [0, 1]) total += metricValue(await scrape(url(i)), name, labels) || 0;
    return total;
  };
  const deliveredOnNodes = () => onNodes("switchboard_messages_delivered_total");

  it("serves every metric name the dashboard queries, after some traffic", async () => {
    const alice = await connect(url(0), { tokenOptions: { sub: unique("alice") } });
    const bobId = unique("bob");
    const bob = await connect(url(1), { tokenOptions: { sub: bobId } });
    const room = unique("room");
    expect(await command(alice, "room:create", { id: room, name: "Dashboard" })).toMatchObject({ ok: true });
    for (const socket of [alice, bob]) expect(await command(socket, "room:join", { room })).toMatchObject({ ok: true });

    // Room messages crossing nodes: the deliveries counted are the messages the sockets got.
    const before = await deliveredOnNodes();
    const received = [collect(alice, "room:message"), collect(bob, "room:message")];
    for (let i = 0; i < 3; i++) expect(await command(alice, "room:publish", { room, data: { i } })).toMatchObject({ ok: true });
    await waitFor(() => received[1]!.length === 3, 5000, "bob's three messages");
    const got = received[0]!.length + received[1]!.length;
    await waitFor(async () => (await deliveredOnNodes()) - before === got, 5000, `${got} deliveries counted`);

    // Refusals, REST, and a notification acknowledged on its socket.
    await connectRefused(url(0), { token: "not-a-token" });
    expect(await command(alice, "room:join", { room: unique("missing") })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    const notified = nextEvent<{ id: string }>(bob, "notification");
    expect(await rest("POST", "/v1/notify", { body: { userId: bobId, type: "peer_message", title: "Hi", body: "there" } })).toMatchObject({ status: 202 });
    expect(await command(bob, "notification:ack", { id: (await notified).id })).toEqual({ ok: true });
    // Counted by the node that owns the notification, either one.
    await waitFor(async () => (await onNodes("switchboard_notifications_total", { channel: "socket", outcome: "acked" })) >= 1, 10000, "the ack counted");

    const texts = await Promise.all([0, 1].map(async (i) => scrape(url(i))));
    const families = declaredFamilies(texts.join("\n"));
    const names = dashboardMetricNames();
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) {
      expect([name, "declared", isDeclared(families, name)]).toEqual([name, "declared", true]);
      if (!ONLY_WHEN_IT_HAPPENS.has(name)) expect([name, "sampled", texts.some((text) => hasSamples(text, name))]).toEqual([name, "sampled", true]);
    }
  });
});
