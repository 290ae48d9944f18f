-- Headless Neovim (0.10+) test of editors/neovim's `inlay_hints = true` (run by
-- tests/test_editors_neovim_inlay_hints.py):
--   nvim --headless -u NONE -c 'filetype on' -c 'luafile nvim_inlay_hints_test.lua' -c 'cquit 3'
-- Environment: LOCKLS_PLUGIN (editors/neovim), LOCKLS_CMD (JSON list), LOCKLS_FILE (C file),
-- LOCKLS_OUT (where to write the JSON result).
local out = {}

local function must(cond, what)
  if not cond then error('timed out waiting for ' .. what) end
end

local function run()
  vim.opt.runtimepath:prepend(os.getenv('LOCKLS_PLUGIN'))
  require('lockls').setup({ cmd = vim.fn.json_decode(os.getenv('LOCKLS_CMD')), inlay_hints = true })
  vim.cmd('edit ' .. vim.fn.fnameescape(os.getenv('LOCKLS_FILE')))
  local bufnr = vim.api.nvim_get_current_buf()
  must(vim.wait(10000, function() return #vim.lsp.get_clients({ bufnr = bufnr }) > 0 end, 20), 'lockls to attach')
  must(vim.wait(10000, function() return vim.lsp.inlay_hint.is_enabled({ bufnr = bufnr }) end, 20),
    'the inlay hints to be enabled')
  must(vim.wait(10000, function() return #vim.lsp.inlay_hint.get({ bufnr = bufnr }) > 0 end, 20), 'inlay hints')
  out.hints = {}
  for _, item in ipairs(vim.lsp.inlay_hint.get({ bufnr = bufnr })) do
    local h = item.inlay_hint
    table.insert(out.hints, { line = h.position.line, character = h.position.character, label = h.label })
  end
  table.sort(out.hints, function(a, b) return a.line < b.line end)
end

local ok, err = pcall(run)
out.ok = ok
if not ok then out.error = tostring(err) end
local f = io.open(os.getenv('LOCKLS_OUT'), 'w')
f:write(vim.fn.json_encode(out))
f:close()
for _, c in ipairs(vim.lsp.get_clients()) do pcall(function() c:stop() end) end
vim.cmd(ok and 'qall!' or 'cquit 1')
