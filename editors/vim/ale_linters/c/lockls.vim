" ALE linter for lockls (lock bugs in C), run as a language server.
" Put editors/vim on 'runtimepath' (ALE loads ale_linters/c/*.vim from it) and enable it:
"   let g:ale_linters = {'c': ['cc', 'lockls']}
" Optional: let g:ale_c_lockls_executable = '/path/to/venv/bin/lockls'

call ale#Set('c_lockls_executable', 'lockls')
call ale#Set('c_lockls_options', '')

function! ale_linters#c#lockls#GetProjectRoot(buffer) abort
    for l:marker in ['.lockls.toml', 'lockls.toml']
        let l:file = ale#path#FindNearestFile(a:buffer, l:marker)
        if !empty(l:file)
            return fnamemodify(l:file, ':h')
        endif
    endfor
    let l:git = ale#path#FindNearestDirectory(a:buffer, '.git')
    return !empty(l:git) ? fnamemodify(l:git, ':h:h') : expand('#' . a:buffer . ':p:h')
endfunction

call ale#linter#Define('c', {
\   'name': 'lockls',
\   'lsp': 'stdio',
\   'executable': {b -> ale#Var(b, 'c_lockls_executable')},
\   'command': {b -> '%e' . ale#Pad(ale#Var(b, 'c_lockls_options'))},
\   'project_root': function('ale_linters#c#lockls#GetProjectRoot'),
\})
