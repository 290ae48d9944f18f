-- Headless Neovim test of editors/neovim (run by tests/test_editors_neovim.py):
--   nvim --headless -u NONE -c 'filetype on' -c 'luafile nvim_test.lua' -c 'cquit 3'
-- Environment: LOCKLS_PLUGIN (editors/neovim), LOCKLS_CMD (JSON list), LOCKLS_FILE (C file),
-- LOCKLS_OUT (where to write the JSON result), LOCKLS_HOVER_LINE (0-based line to hover).
local out = {}

local function clients_of(bufnr)
  if vim.lsp.get_clients then return vim.lsp.get_clients({ bufnr = bufnr }) end
  local list = {}
  for _, c in pairs(vim.lsp.buf_get_clients(bufnr)) do table.insert(list, c) end
  return list
end

local function must(cond, what)
  if not cond then error('timed out waiting for ' .. what) end
end

local function run()
  vim.opt.runtimepath:prepend(os.getenv('LOCKLS_PLUGIN'))
  require('lockls').setup({ cmd = vim.fn.json_decode(os.getenv('LOCKLS_CMD')) })
  vim.cmd('edit ' .. vim.fn.fnameescape(os.getenv('LOCKLS_FILE')))
  local bufnr = vim.api.nvim_get_current_buf()
  out.filetype = vim.bo[bufnr].filetype
  out.nvim = vim.version().major .. '.' .. vim.version().minor .. '.' .. vim.version().patch

  must(vim.wait(10000, function()
    local cs = clients_of(bufnr)
    return #cs > 0 and cs[1].initialized ~= false and not (cs[1].is_stopped and false)
  end, 20), 'a lockls client to attach')
  local client = clients_of(bufnr)[1]
  out.client = client.name

  must(vim.wait(10000, function() return #vim.diagnostic.get(bufnr) > 0 end, 20), 'diagnostics')
  out.diagnostics = {}
  local lsp_diags = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    local lsp = d.user_data and d.user_data.lsp or {}
    table.insert(out.diagnostics, {
      lnum = d.lnum, col = d.col, severity = d.severity, source = d.source or lsp.source,
      code = d.code or lsp.code, message = d.message,
    })
    -- What vim.lsp.buf.code_action() sends back (0.7 keeps only some fields in user_data).
    table.insert(lsp_diags, vim.tbl_extend('keep', {
      range = { start = { line = d.lnum, character = d.col },
                ['end'] = { line = d.end_lnum or d.lnum, character = d.end_col or d.col } },
      severity = d.severity, message = d.message, source = d.source, code = d.code,
    }, lsp))
  end

  local uri = vim.uri_from_bufnr(bufnr)
  local hover_line = tonumber(os.getenv('LOCKLS_HOVER_LINE'))
  local res = vim.lsp.buf_request_sync(bufnr, 'textDocument/hover', {
    textDocument = { uri = uri }, position = { line = hover_line, character = 4 },
  }, 10000)
  out.hover = {}
  for _, r in pairs(res or {}) do
    if r.result and r.result.contents then
      local c = r.result.contents
      table.insert(out.hover, type(c) == 'table' and (c.value or vim.fn.json_encode(c)) or c)
    end
  end

  local d = lsp_diags[1]
  res = vim.lsp.buf_request_sync(bufnr, 'textDocument/codeAction', {
    textDocument = { uri = uri }, range = d.range, context = { diagnostics = lsp_diags },
  }, 10000)
  out.code_actions = {}
  for _, r in pairs(res or {}) do
    for _, a in ipairs(r.result or {}) do
      table.insert(out.code_actions, { title = a.title, kind = a.kind, has_edit = a.edit ~= nil })
    end
  end
end

local ok, err = pcall(run)
out.ok = ok
if not ok then out.error = tostring(err) end
local f = io.open(os.getenv('LOCKLS_OUT'), 'w')
f:write(vim.fn.json_encode(out))
f:close()
local all = vim.lsp.get_clients and vim.lsp.get_clients() or vim.lsp.get_active_clients()
for _, c in ipairs(all) do pcall(function() c.stop() end) end
vim.cmd(ok and 'qall!' or 'cquit 1')
