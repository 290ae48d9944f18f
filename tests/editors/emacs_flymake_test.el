;;; emacs_flymake_test.el --- batch test of editors/emacs/lockls-flymake.el (run by tests/test_editors_flymake.py)
;; emacs --batch -Q -l emacs_flymake_test.el
;; Environment: LOCKLS_PLUGIN, LOCKLS_CMD (JSON list), LOCKLS_FILE (a C file whose line 11
;; reads `counter--;'), LOCKLS_BAD_FILE (a C file under a broken .lockls.toml), LOCKLS_OUT.
(require 'json)
(require 'cl-lib)

(defvar lockls-test-result (list (cons 'ok :json-false)))
(defun lockls-test-put (key value) (push (cons key value) lockls-test-result))

(defun lockls-test-wait (what pred &optional seconds)
  (let ((deadline (+ (float-time) (or seconds 20))))
    (while (and (not (funcall pred)) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (unless (funcall pred) (error "Timed out waiting for %s" what))))

(defun lockls-test-diagnostics ()
  (vconcat
   (mapcar (lambda (d)
             (list (cons 'line (line-number-at-pos (flymake-diagnostic-beg d)))
                   (cons 'column (save-excursion (goto-char (flymake-diagnostic-beg d)) (current-column)))
                   (cons 'end_column (save-excursion (goto-char (flymake-diagnostic-end d)) (current-column)))
                   (cons 'type (symbol-name (flymake-diagnostic-type d)))
                   (cons 'text (flymake-diagnostic-text d))))
           (flymake-diagnostics))))

(defun lockls-test-check (file edit)
  "Open FILE, apply EDIT (a function) without saving, run flymake; the diagnostics."
  (find-file file)
  (c-mode)
  (funcall edit)
  ;; c-mode's own backend (flymake-cc) wants a Makefile: leave it out
  (setq-local flymake-diagnostic-functions nil)
  (lockls-flymake-setup)
  (flymake-start nil t)
  (condition-case err
      (lockls-test-wait (format "flymake diagnostics of %s" file)
                        (lambda () (flymake-diagnostics)))
    (error (error "%s (running %S, disabled %S; log: %s)" (error-message-string err)
                  (flymake-running-backends) (flymake-disabled-backends)
                  (if (get-buffer "*Flymake log*")
                      (with-current-buffer "*Flymake log*" (buffer-string))
                    "none"))))
  (lockls-test-diagnostics))

(defun lockls-test-run ()
  (add-to-list 'load-path (getenv "LOCKLS_PLUGIN"))
  (require 'lockls-flymake)
  (setq lockls-flymake-command (append (json-read-from-string (getenv "LOCKLS_CMD")) nil))
  (lockls-test-put 'emacs emacs-version)
  ;; the leak exists only in the buffer: the file on disk is fine
  (lockls-test-put
   'diagnostics
   (lockls-test-check (getenv "LOCKLS_FILE")
                      (lambda ()
                        (goto-char (point-min))
                        (search-forward "counter--;")
                        (replace-match "return -1;"))))
  (lockls-test-put 'modified (if (buffer-modified-p) t :json-false))
  (lockls-test-put 'backends (vconcat (mapcar #'symbol-name (remq t flymake-diagnostic-functions))))
  ;; eglot starting in the buffer keeps only its own backend; the setup adds lockls back
  (setq-local flymake-diagnostic-functions '(eglot-flymake-backend))
  (run-hooks 'eglot-managed-mode-hook)
  (lockls-test-put 'backends_after_eglot (vconcat (mapcar #'symbol-name flymake-diagnostic-functions)))
  ;; a broken configuration: said on the first line
  (lockls-test-put 'bad_config (lockls-test-check (getenv "LOCKLS_BAD_FILE") #'ignore))
  (setcdr (assq 'ok lockls-test-result) t))

(let ((code 0))
  (condition-case err
      (lockls-test-run)
    (error (lockls-test-put 'error (error-message-string err)) (setq code 1)))
  (with-temp-file (getenv "LOCKLS_OUT")
    (insert (json-encode lockls-test-result)))
  (kill-emacs code))
