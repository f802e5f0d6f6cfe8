// A backup program in Node.js driving vsssim's simulated VSS over JSON-RPC (no npm packages).
//
//   node examples/rpc/backup.mjs            (runs `python3 -m vsssim serve --stdio`)
//   VSSSIM_PYTHON=.venv/bin/python node examples/rpc/backup.mjs
//
// Two backups, in the order VSS requesters call: a component-mode full backup of the SQL Server
// writer's Sales database, then a non-component copy backup of volume F:. Each checks the
// writers' status and reads the copied data through the shadow copies' device paths.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import assert from "node:assert/strict";

const python = process.env.VSSSIM_PYTHON || "python3";
const server = spawn(python, ["-m", "vsssim", "serve", "--stdio", ...process.argv.slice(2)], {
  stdio: ["pipe", "pipe", "inherit"],
});
const waiting = new Map();
let nextId = 0;
createInterface({ input: server.stdout }).on("line", (line) => {
  const message = JSON.parse(line);
  if (message.id === undefined) return; // a notification (vsssim.trace)
  const { resolve, reject } = waiting.get(message.id);
  waiting.delete(message.id);
  if (message.error) {
    const error = new Error(message.error.message);
    error.code = message.error.code;
    error.vss = message.error.data && message.error.data.name;
    reject(error);
  } else resolve(message.result);
});

function call(method, params = {}) {
  const id = ++nextId;
  server.stdin.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
  return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
}

async function wait(started) {
  await call("IVssAsync.Wait", { object: started.async });
  const status = await call("IVssAsync.QueryStatus", { object: started.async });
  assert.equal(status.name, "VSS_S_ASYNC_FINISHED");
}

const text = (base64) => Buffer.from(base64, "base64").toString("latin1");

async function writerStatuses(bc) {
  await wait(await call("GatherWriterStatus", { object: bc }));
  const { writers } = await call("GetWriterStatusCount", { object: bc });
  const found = {};
  for (let writer = 0; writer < writers; writer++) {
    const s = await call("GetWriterStatus", { object: bc, writer });
    assert.equal(s.hr_result_failure, 0, `${s.writer} failed: ${s.failure_name}`);
    found[s.writer] = s.status;
  }
  return found;
}

async function startSession(selectComponents, backupType) {
  const { object: bc } = await call("CreateVssBackupComponents");
  await call("InitializeForBackup", { object: bc });
  await call("SetBackupState", {
    object: bc,
    select_components: selectComponents,
    backup_bootable_system_state: false,
    backup_type: backupType,
  });
  await wait(await call("GatherWriterMetadata", { object: bc }));
  return bc;
}

async function findComponent(bc, writerName, componentName) {
  const { writers } = await call("GetWriterMetadataCount", { object: bc });
  for (let writer = 0; writer < writers; writer++) {
    const { metadata } = await call("GetWriterMetadata", { object: bc, writer });
    const identity = await call("IVssExamineWriterMetadata.GetIdentity", { object: metadata });
    if (identity.writer_name !== writerName) continue;
    const counts = await call("IVssExamineWriterMetadata.GetFileCounts", { object: metadata });
    for (let component = 0; component < counts.components; component++) {
      const info = await call("IVssExamineWriterMetadata.GetComponent", { object: metadata, component });
      if (info.component_name === componentName) return { identity, info };
    }
  }
  throw new Error(`no component ${writerName}:${componentName}`);
}

async function componentBackup() {
  const bc = await startSession(true, "VSS_BT_FULL");
  const { identity, info } = await findComponent(bc, "SqlServerWriter", "Sales");
  const named = {
    instance_id: identity.instance_id,
    writer_id: identity.writer_id,
    component_type: info.type,
    logical_path: info.logical_path,
    component_name: info.component_name,
  };
  await call("AddComponent", { object: bc, ...named });
  await call("StartSnapshotSet", { object: bc });
  const snapshots = {};
  for (const file of info.files) {
    const { volume_path_name: volume } = await call("vsssim.GetVolumePathName", { file_name: file.path });
    if (!(volume in snapshots)) {
      snapshots[volume] = (await call("AddToSnapshotSet", { object: bc, volume_name: volume })).snapshot_id;
    }
  }
  await wait(await call("PrepareForBackup", { object: bc }));
  await wait(await call("DoSnapshotSet", { object: bc }));
  const statuses = await writerStatuses(bc);
  assert.equal(statuses.SqlServerWriter, "VSS_WS_WAITING_FOR_BACKUP_COMPLETE");
  let copied = 0;
  for (const file of info.files) {
    const { volume_path_name: volume } = await call("vsssim.GetVolumePathName", { file_name: file.path });
    const props = await call("GetSnapshotProperties", { object: bc, snapshot_id: snapshots[volume] });
    const folder = props.snapshot_device_object + "\\" + file.path.slice(volume.length);
    const { files } = await call("vsssim.FindFiles", { path: folder, filespec: file.filespec });
    assert.equal(files.length, 1);
    const data = await call("vsssim.ReadBlocks", { path: files[0] });
    assert.equal(text(data.blocks[0][1]), `initial:${file.path}\\${file.filespec}#0`);
    copied += data.blocks.length;
  }
  await call("SetBackupSucceeded", { object: bc, ...named, succeded: true });
  await wait(await call("BackupComplete", { object: bc }));
  const after = await writerStatuses(bc);
  assert.equal(after.SqlServerWriter, "VSS_WS_STABLE");
  const { xml } = await call("SaveAsXML", { object: bc });
  assert.match(xml, /Sales/);
  await call("Release", { object: bc });
  return copied;
}

async function copyBackup() {
  const bc = await startSession(false, "VSS_BT_COPY");
  await call("StartSnapshotSet", { object: bc });
  const { snapshot_id } = await call("AddToSnapshotSet", { object: bc, volume_name: "F:\\" });
  await wait(await call("PrepareForBackup", { object: bc }));
  await wait(await call("DoSnapshotSet", { object: bc }));
  const statuses = await writerStatuses(bc);
  assert.ok(Object.keys(statuses).length > 0);
  const props = await call("GetSnapshotProperties", { object: bc, snapshot_id });
  const device = props.snapshot_device_object;
  const { files } = await call("vsssim.FindFiles", { path: device + "\\Shares", filespec: "*", recursive: true });
  assert.ok(files.some((f) => f.endsWith("\\Projects\\plan.docx")), files.join(" "));
  // F:\Shares\Archive is another volume mounted there: not in F:'s shadow copy
  assert.ok(!files.some((f) => f.includes("\\Archive\\")), files.join(" "));
  const plan = device + "\\Shares\\Projects\\plan.docx";
  const head = await call("vsssim.ReadFile", { path: plan, length: 64 });
  assert.ok(text(head.data).startsWith("initial:F:\\Shares\\Projects\\plan.docx#0"));
  await wait(await call("BackupComplete", { object: bc }));
  await call("Release", { object: bc }); // auto-release: the shadow copy goes with the object
  await assert.rejects(call("vsssim.ReadFile", { path: plan }), (e) => e.vss === "VSS_E_OBJECT_NOT_FOUND");
  return files.length;
}

try {
  const blocks = await componentBackup();
  const files = await copyBackup();
  const { records } = await call("vsssim.GetTrace");
  assert.ok(records.some((r) => r.action === "DoSnapshotSet"), "the trace shows the protocol");
  console.log(`component backup: ${blocks} blocks copied; copy backup: ${files} files seen`);
  server.stdin.end();
} catch (error) {
  console.error(error);
  server.kill();
  process.exitCode = 1;
}
