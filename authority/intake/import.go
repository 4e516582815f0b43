package intake

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"eidkiosk/internal/atomicfile"
)

// Exported package files (kioskctl outbox export) and the receipts Import
// writes beside them.
const (
	PackageExt = ".eidpkg"
	ReceiptExt = ".receipt"
)

// ImportResult counts what Import did.
type ImportResult struct {
	Stored   int
	Repeated int
	Refused  map[string]int // by code
	// Failures lists refused files with their code (file names are
	// enrollment IDs, nothing personal).
	Failures []string
}

// Import takes every *.eidpkg file of dir (a USB export), in name order,
// which is time order for UUIDv7 names, with the same checks and the same
// exactly-once guarantee as the upload: the device certificate inside each
// package is checked with the registry. The signed receipt of each stored or
// repeated package is written beside it as ID.receipt. progress, when not
// nil, is called after each file.
func (in *Intake) Import(ctx context.Context, dir string, progress func(done, total int, file string)) (ImportResult, error) {
	res := ImportResult{Refused: map[string]int{}}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return res, fmt.Errorf("intake: import: %w", err)
	}
	var files []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), PackageExt) && !strings.HasPrefix(e.Name(), ".") {
			files = append(files, e.Name())
		}
	}
	sort.Strings(files)
	for i, name := range files {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("intake: import: %w", err)
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return res, fmt.Errorf("intake: import: %w", err)
		}
		id := strings.TrimSuffix(name, PackageExt)
		r, err := in.Submit(ctx, b, id, nil, FromImport)
		var ref *Refusal
		switch {
		case errors.As(err, &ref):
			res.Refused[ref.Code]++
			res.Failures = append(res.Failures, name+": "+ref.Code)
		case err != nil:
			return res, fmt.Errorf("intake: import %s: %w", name, err)
		default:
			if r.Repeat {
				res.Repeated++
			} else {
				res.Stored++
			}
			if err := atomicfile.Write(filepath.Join(dir, id+ReceiptExt), r.Receipt, 0o644); err != nil {
				return res, fmt.Errorf("intake: import: receipt: %w", err)
			}
		}
		if progress != nil {
			progress(i+1, len(files), name)
		}
	}
	return res, nil
}
