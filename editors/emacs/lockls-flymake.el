;;; lockls-flymake.el --- lockls (lock bugs in C) as a flymake backend  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "27.1"))
;; Keywords: c, tools, languages

;;; Commentary:

;; A flymake backend that runs `lockls check --stdin-filename FILE --format json' on the
;; buffer's text (saved or not) and shows the findings.  It needs no language server:
;; use it to keep clangd (or another server) in eglot and still see lockls' findings.
;;
;;   (add-to-list 'load-path "/path/to/lockls/editors/emacs")
;;   (require 'lockls-flymake)
;;   (add-hook 'c-mode-hook #'lockls-flymake-setup)     ; and c-ts-mode-hook
;;
;; eglot replaces `flymake-diagnostic-functions' in the buffers it manages: the setup
;; adds the backend back there (after `eglot-managed-mode-hook'), so clangd's
;; diagnostics and lockls' show side by side.

;;; Code:

(require 'flymake)
(require 'json)
(require 'cl-lib)
(require 'subr-x)

(defgroup lockls-flymake nil
  "Lock bugs in C, through flymake and the lockls command."
  :group 'tools
  :prefix "lockls-flymake-")

(defcustom lockls-flymake-command '("lockls")
  "The lockls program (and any arguments before `check')."
  :type '(repeat string))

(defcustom lockls-flymake-args nil
  "More `lockls check' options, e.g. (\"--config\" \"ci/lockls.toml\")."
  :type '(repeat string))

(defvar-local lockls-flymake--process nil
  "The lockls run of this buffer still going, if any.")

(defun lockls-flymake--file ()
  "The file name lockls is told the buffer's text is."
  (expand-file-name (or buffer-file-name (concat (buffer-name) ".c"))))

(defun lockls-flymake--command ()
  "The whole command line: the buffer's text on stdin, JSON on stdout."
  (append lockls-flymake-command
          (list "check" "--stdin-filename" (lockls-flymake--file) "--format" "json")
          lockls-flymake-args))

(defun lockls-flymake--position (line column)
  "The position of 1-based LINE and COLUMN (characters) in the current buffer."
  (save-excursion
    (goto-char (point-min))
    (forward-line (1- line))
    (min (+ (point) (max 0 (1- column))) (line-end-position))))

(defun lockls-flymake--type (severity)
  "The flymake type of a lockls SEVERITY."
  (pcase severity
    ("error" :error)
    ("warning" :warning)
    (_ :note)))

(defun lockls-flymake--diagnostics (source findings)
  "Flymake diagnostics in buffer SOURCE for lockls' JSON FINDINGS (alists)."
  (with-current-buffer source
    (let ((file (lockls-flymake--file)))
      (cl-loop
       for f in findings
       for path = (alist-get 'path f)
       when (or (null path) (equal (expand-file-name path) file))
       collect
       (let* ((beg (lockls-flymake--position (alist-get 'line f) (alist-get 'column f)))
              (end (lockls-flymake--position (alist-get 'end_line f) (alist-get 'end_column f))))
         (when (<= end beg)             ; an empty range: mark the character there
           (setq end (min (1+ beg) (point-max))))
         (flymake-make-diagnostic
          source beg end (lockls-flymake--type (alist-get 'severity f))
          (format "lockls [%s]: %s" (alist-get 'rule f) (alist-get 'message f))))))))

(defun lockls-flymake--usage-error (source stderr)
  "A diagnostic on SOURCE's first line saying why lockls refused to run (STDERR)."
  (let ((message (string-trim (car (last (split-string stderr "\n" t))))))
    (with-current-buffer source
      (list (flymake-make-diagnostic
             source (point-min) (save-excursion (goto-char (point-min)) (line-end-position))
             :error (concat "lockls: " message))))))

(defun lockls-flymake--drain (stderr-buffer)
  "Wait (a second at most) for the rest of STDERR-BUFFER's pipe.
The process sentinel can run before the last of its standard error is read."
  (let ((pipe (get-buffer-process stderr-buffer))
        (tries 20))
    (while (and pipe (process-live-p pipe) (> tries 0))
      (accept-process-output pipe 0.05)
      (setq tries (1- tries)))))

(defun lockls-flymake--finish (process source report-fn stderr-buffer)
  "Report what the finished lockls PROCESS found in SOURCE to REPORT-FN."
  (let ((output (process-buffer process)))
    (unwind-protect
        (when (and (buffer-live-p source)
                   (eq process (buffer-local-value 'lockls-flymake--process source)))
          (with-current-buffer source (setq lockls-flymake--process nil))
          (lockls-flymake--drain stderr-buffer)
          (let ((status (process-exit-status process))
                (stderr (with-current-buffer stderr-buffer (buffer-string))))
            (cond
             ((and (eq (process-status process) 'exit) (memq status '(0 1)))
              (let ((findings (with-current-buffer output
                                (goto-char (point-min))
                                (let ((json-object-type 'alist)
                                      (json-array-type 'list)
                                      (json-key-type 'symbol))
                                  (and (re-search-forward "[^[:space:]]" nil t)
                                       (progn (goto-char (point-min)) (json-read)))))))
                (funcall report-fn (lockls-flymake--diagnostics source findings))))
             ((and (eq (process-status process) 'exit) (= status 2) (string-match-p "[^[:space:]]" stderr))
              ;; a usage or configuration error: say it where it is seen
              (funcall report-fn (lockls-flymake--usage-error source stderr)))
             (t
              (funcall report-fn :panic
                       :explanation (format "lockls exited with %s: %s" status stderr))))))
      (kill-buffer output)
      (kill-buffer stderr-buffer))))

;;;###autoload
(defun lockls-flymake (report-fn &rest _args)
  "Flymake backend: check the buffer's text with lockls; report to REPORT-FN."
  (unless (executable-find (car lockls-flymake-command))
    (error "Cannot find lockls (%s): install it or set `lockls-flymake-command'"
           (car lockls-flymake-command)))
  (when (process-live-p lockls-flymake--process)
    (kill-process lockls-flymake--process))    ; the buffer changed: that run is stale
  (let* ((source (current-buffer))
         (stderr-buffer (generate-new-buffer " *lockls-flymake stderr*"))
         ;; a pipe of our own: the default one's sentinel writes "Process ... finished" into it
         (stderr-pipe (make-pipe-process :name "lockls-flymake stderr" :buffer stderr-buffer
                                         :noquery t :sentinel #'ignore))
         ;; run where the file is: relative paths in the output are relative to it
         (default-directory (file-name-directory (lockls-flymake--file)))
         (process
          (make-process
           :name "lockls-flymake" :noquery t :connection-type 'pipe
           :buffer (generate-new-buffer " *lockls-flymake*")
           :stderr stderr-pipe
           :command (lockls-flymake--command)
           :sentinel
           (lambda (proc _event)
             (unless (process-live-p proc)
               (lockls-flymake--finish proc source report-fn stderr-buffer))))))
    (setq lockls-flymake--process process)
    (save-restriction
      (widen)
      (process-send-region process (point-min) (point-max)))
    (process-send-eof process)))

(defun lockls-flymake--add ()
  "Add the lockls backend to this buffer's flymake backends."
  (add-hook 'flymake-diagnostic-functions #'lockls-flymake nil t))

;;;###autoload
(defun lockls-flymake-setup ()
  "Check this buffer with lockls through flymake, beside other backends.
eglot keeps only its own backend when it starts: lockls is added back then."
  (lockls-flymake--add)
  ;; eglot sets `flymake-diagnostic-functions' to its own backend alone when it starts
  (add-hook 'eglot-managed-mode-hook #'lockls-flymake--add nil t)
  (flymake-mode 1))

(provide 'lockls-flymake)
;;; lockls-flymake.el ends here
