-- Workspace trust: the workspace's tta-codegen.toml declares a command gate (repo-check),
-- which runs only once the workspace is trusted: by `trusted_workspaces` (params.trusted)
-- or by :TTATrust.
local T = require('tta_test')
T.setup({ trusted_workspaces = T.params.trusted and { T.params.workspace } or {} })
local _, client = T.open(T.params.file)
T.require_command(client, 'tta.trustWorkspace')
local function gate_names(done)
  local names = {}
  for _, g in ipairs((done.result or {}).gates or {}) do
    names[#names + 1] = g.name
  end
  return names
end
vim.cmd('TTAGenerate ' .. T.params.description)
T.result.before = gate_names(T.wait_done(1))
if not T.params.trusted then
  vim.cmd('TTATrust')
  T.wait_done(2)
  vim.cmd('TTAGenerate ' .. T.params.description)
  T.result.after = gate_names(T.wait_done(3))
end
