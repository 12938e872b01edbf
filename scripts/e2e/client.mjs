// Drives joai-bridge end to end with the official MCP TypeScript SDK, as a
// desktop client would: it spawns the bridge over stdio, runs the
// handshake, lists and calls every tool, reads every resource and pings.
// Any mismatch exits non-zero with a message on stderr.
//
//   node client.mjs BRIDGE [ARGS...]
//
// The bridge gets this process's environment, so JOAI_API_TOKEN and the
// like pass through. The memory written is unique to the run, so the
// script can run again against the same server.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error("usage: node client.mjs BRIDGE [ARGS...]");
  process.exit(2);
}

const failures = [];
function check(ok, what) {
  if (ok) {
    console.log(`ok   ${what}`);
  } else {
    console.log(`FAIL ${what}`);
    failures.push(what);
  }
}

function text(result) {
  return (result.content ?? []).filter((c) => c.type === "text").map((c) => c.text).join("\n");
}

const transport = new StdioClientTransport({
  command,
  args,
  env: { ...process.env },
  stderr: "inherit",
});
const client = new Client({ name: "joai-e2e", version: "1.0.0" });

try {
  await client.connect(transport);
  const server = client.getServerVersion();
  check(server?.name === "joai-mock", `initialize: server is ${server?.name}`);
  const caps = client.getServerCapabilities() ?? {};
  check(caps.tools !== undefined && caps.resources !== undefined, "initialize: tools and resources capabilities");

  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort().join(",");
  check(names === "create_memory,prompt_agent,update_memory", `tools/list: ${names}`);
  const prompt = tools.find((t) => t.name === "prompt_agent");
  check(prompt?.inputSchema?.required?.includes("message"), "tools/list: prompt_agent requires message");

  const reply = await client.callTool({ name: "prompt_agent", arguments: { message: "Hello from API!" } });
  check(!reply.isError && text(reply).includes("Ada"), `tools/call prompt_agent: ${text(reply)}`);

  const marker = `e2e memory ${process.pid}-${Date.now()} <&> ✓ "quoted"`;
  const created = await client.callTool({ name: "create_memory", arguments: { content: marker } });
  const memoryId = created.structuredContent?.memoryId ?? JSON.parse(text(created) || "{}").memoryId;
  check(!created.isError && typeof memoryId === "string" && memoryId !== "", `tools/call create_memory: id ${memoryId}`);

  const updatedText = `${marker} (updated)`;
  const updated = await client.callTool({ name: "update_memory", arguments: { memoryId, content: updatedText } });
  check(!updated.isError && text(updated).includes("(updated)"), "tools/call update_memory");

  const { resources } = await client.listResources();
  const kinds = resources.map((r) => r.uri.split("/").pop()).sort().join(",");
  check(kinds === "character,info,memories", `resources/list: ${kinds}`);

  for (const resource of resources) {
    const read = await client.readResource({ uri: resource.uri });
    const body = read.contents.map((c) => c.text ?? "").join("");
    check(read.contents.length > 0 && body.length > 0, `resources/read ${resource.uri}: ${body.length} characters`);
    if (resource.uri.endsWith("/memories")) {
      let memories = [];
      try {
        memories = JSON.parse(body).memories ?? [];
      } catch (err) {
        check(false, `resources/read memories: not JSON: ${err}`);
      }
      check(memories.some((m) => m.id === memoryId && m.content === updatedText), "resources/read memories: has the updated memory");
    }
    if (resource.uri.endsWith("/character")) {
      check(body.includes("Ada"), "resources/read character: Ada's character");
    }
  }

  const pong = await client.ping();
  check(pong !== undefined, "ping");
} catch (err) {
  check(false, `unexpected error: ${err?.stack ?? err}`);
} finally {
  await client.close().catch(() => {});
}

if (failures.length > 0) {
  console.error(`${failures.length} check(s) failed`);
  process.exit(1);
}
console.log("all checks passed");
