/**
 * ot-text-unicode for the browser (the demo page's shared editor): the library's own CommonJS
 * dist files and its one dependency (unicount), wrapped in a tiny module loader at start and
 * served as one script that sets `window.otTextUnicode`. The page thus runs the very transform
 * the nodes run, with no bundler in the build.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** Module name -> file, for every module the library's dist requires. */
function modules(): Record<string, string> {
  const dist = dirname(require.resolve("ot-text-unicode"));
  return {
    "ot-text-unicode": join(dist, "index.js"),
    "./type": join(dist, "type.js"),
    "./api": join(dist, "api.js"),
    "./maketext": join(dist, "maketext.js"),
    unicount: require.resolve("unicount", { paths: [dist] }),
  };
}

/** The script; undefined when the library's files cannot be read (the editor then stays off). */
export function otTextBrowserBundle(): string | undefined {
  try {
    const parts = Object.entries(modules()).map(
      ([name, file]) => `${JSON.stringify(name)}: function (module, exports, require) {\n${readFileSync(file, "utf8").replace(/^\/\/# sourceMappingURL=.*$/gm, "")}\n}`,
    );
    return `/* ot-text-unicode (MIT), its dist files as published, for the browser. */
(function () {
  "use strict";
  var defs = {
${parts.join(",\n")}
  };
  var cache = {};
  function load(name) {
    if (cache[name]) return cache[name].exports;
    if (!defs[name]) throw new Error("ot-text-unicode bundle: unknown module " + name);
    var module = (cache[name] = { exports: {} });
    defs[name].call(module.exports, module, module.exports, load);
    return module.exports;
  }
  window.otTextUnicode = load("ot-text-unicode");
})();
`;
  } catch {
    return undefined;
  }
}
