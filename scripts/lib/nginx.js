// Renders the repository's nginx.conf for a local run (npm run cluster, the tests): the upstream
// points at 127.0.0.1 ports instead of the compose service names, nginx listens on a given
// address, and the paths stay relative to a private prefix (-p). One renderer, so the tests
// exercise exactly what `npm run cluster` runs.
const { spawnSync } = require("node:child_process");
const { existsSync, readFileSync } = require("node:fs");
const { join } = require("node:path");

const TEMPLATE_PATH = join(__dirname, "..", "..", "nginx.conf");
const UPSTREAM = "switchboard";

/** The nginx binary: on PATH, or where Debian and source builds put it (often not on a user's PATH). */
function findNginx() {
  if (spawnSync("sh", ["-c", "command -v nginx"], { stdio: "ignore" }).status === 0) return "nginx";
  return ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"].find((p) => existsSync(p));
}

/** The text between the `{` at `open` and its matching `}`, and where that `}` is. */
function blockAt(text, open) {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return { body: text.slice(open + 1, i), end: i };
  }
  throw new Error("nginx.conf: unbalanced braces");
}

/**
 * @param {object} options
 * @param {{ host?: string, port: number }[]} options.nodes  upstream servers, in order
 * @param {string} options.listen       `host:port` nginx listens on
 * @param {number|string} [options.workers]  worker_processes (default 1)
 * @param {string|null} [options.accessLog]  a file for the access log; null = off (default)
 * @param {{ listen: string, nodes: { host?: string, port: number }[] }[]} [options.extraServers]
 *   more listeners, each a copy of the public server block proxying to its own upstream of the
 *   given nodes (tests use them to put browsers on chosen nodes through nginx)
 * @param {string} [options.template]   nginx.conf text (default: the repository's)
 */
function renderNginxConf(options) {
  let conf = options.template ?? readFileSync(TEMPLATE_PATH, "utf8");
  const replaceOnce = (pattern, replacement, what) => {
    if (!pattern.test(conf)) throw new Error(`nginx.conf: cannot find ${what}`);
    conf = conf.replace(pattern, replacement);
  };
  replaceOnce(/^worker_processes\s+\S+;/m, `worker_processes ${options.workers ?? 1};`, "worker_processes");
  // `access_log /dev/stdout` cannot be opened when stdout is a socket (Node's child pipes).
  replaceOnce(/^(\s*)access_log\s+[^;]+;/m, `$1access_log ${options.accessLog ? options.accessLog : "off"};`, "access_log");

  // The upstream: one `server` line per node, with the template's parameters (max_fails, …).
  const upstreamStart = conf.search(new RegExp(`upstream\\s+${UPSTREAM}\\s*\\{`));
  if (upstreamStart < 0) throw new Error(`nginx.conf: no upstream ${UPSTREAM}`);
  const upstream = blockAt(conf, conf.indexOf("{", upstreamStart));
  const serverLine = /^([ \t]*)server\s+\S+(\s[^;]*)?;[ \t]*$/m.exec(upstream.body);
  if (!serverLine) throw new Error("nginx.conf: the upstream has no server line");
  const indent = serverLine[1];
  const params = serverLine[2] ?? "";
  const servers = options.nodes.map((n) => `${indent}server ${n.host ?? "127.0.0.1"}:${n.port}${params};`).join("\n");
  const lines = upstream.body.split("\n");
  const first = lines.findIndex((l) => /^\s*server\s/.test(l));
  const kept = lines.filter((l, i) => i === first || !/^\s*server\s/.test(l)).map((l, i) => (i === first ? servers : l));
  conf = conf.slice(0, conf.indexOf("{", upstreamStart) + 1) + kept.join("\n") + conf.slice(upstream.end);

  // The public server block (the first `server {` after the upstream).
  const serverStart = conf.slice(upstreamStart).search(/\n\s*server\s*\{/) + upstreamStart;
  const serverOpen = conf.indexOf("{", serverStart);
  const serverBlock = blockAt(conf, serverOpen);
  const listenPattern = /^(\s*)listen\s+[^;]+;/m;
  if (!listenPattern.test(serverBlock.body)) throw new Error("nginx.conf: the server block has no listen");
  const publicBody = serverBlock.body.replace(listenPattern, `$1listen ${options.listen};`);
  let extra = "";
  for (const [i, server] of (options.extraServers ?? []).entries()) {
    const name = `${UPSTREAM}_extra_${i + 1}`;
    const members = server.nodes.map((n) => `        server ${n.host ?? "127.0.0.1"}:${n.port};`).join("\n");
    const body = serverBlock.body.replace(listenPattern, `$1listen ${server.listen};`).split(`http://${UPSTREAM};`).join(`http://${name};`);
    extra += `\n\n    upstream ${name} {\n${members}\n    }\n\n    server {${body}}`;
  }
  conf = conf.slice(0, serverOpen + 1) + publicBody + "}" + extra + conf.slice(serverBlock.end + 1);
  return conf;
}

module.exports = { findNginx, renderNginxConf, TEMPLATE_PATH };
