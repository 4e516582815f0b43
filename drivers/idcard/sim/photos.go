package sim

import (
	"bytes"
	"context"
	"embed"
	"encoding/binary"
	"fmt"
	"image"
	_ "image/jpeg" // the container holds a JPEG
	"strings"

	reader "eidkiosk/drivers/idcard"
	"eidkiosk/idcard"
)

// Test photos. A real card's 1,024-byte photo is WLT, which only licensed
// vendor libraries decode. So that the face comparison of a visit can run
// on simulated hardware, deck cards may carry instead a test container: a
// magic, a length and a chip-sized JPEG (102×126, ≤ 1 KB), zero-padded to
// 1,024 bytes. Only ContainerDecoder, the simulator's own test decoder,
// reads it; it refuses everything else, real WLT included, and the
// container never begins with WLT's "WL" header, so no WLT decoder takes it
// for a photo.
const containerMagic = "eidkiosk-simjpeg" // 16 bytes

// PhotoContainer wraps a JPEG in the test container.
func PhotoContainer(jpeg []byte) ([]byte, error) {
	n := len(containerMagic) + 2 + len(jpeg)
	if n > idcard.PhotoLen {
		return nil, fmt.Errorf("sim: test photo of %d bytes does not fit the %d-byte photo block", len(jpeg), idcard.PhotoLen)
	}
	b := make([]byte, idcard.PhotoLen)
	copy(b, containerMagic)
	binary.BigEndian.PutUint16(b[len(containerMagic):], uint16(len(jpeg)))
	copy(b[len(containerMagic)+2:], jpeg)
	return b, nil
}

// MaxContainerJPEG is the largest JPEG a test container holds.
const MaxContainerJPEG = idcard.PhotoLen - len(containerMagic) - 2

// ContainerDecoder is the simulator's test photo decoder (an
// reader.PhotoDecoder): it decodes the test container and nothing else.
// The demo and the simulated stack give it to the kiosk in place of a
// licensed WLT decoder; a production kiosk never links it.
type ContainerDecoder struct{}

// DecodePhoto implements drivers/idcard.PhotoDecoder.
func (ContainerDecoder) DecodePhoto(ctx context.Context, b []byte) (image.Image, error) {
	if len(b) != idcard.PhotoLen || !bytes.HasPrefix(b, []byte(containerMagic)) {
		return nil, fmt.Errorf("%w: not a simulator test photo (the test decoder reads no WLT)", reader.ErrPhotoDecoder)
	}
	n := int(binary.BigEndian.Uint16(b[len(containerMagic):]))
	if n > MaxContainerJPEG {
		return nil, fmt.Errorf("%w: test photo length %d", reader.ErrPhotoDecoder, n)
	}
	img, _, err := image.Decode(bytes.NewReader(b[len(containerMagic)+2 : len(containerMagic)+2+n]))
	if err != nil {
		return nil, fmt.Errorf("%w: test photo: %w", reader.ErrPhotoDecoder, err)
	}
	return img, nil
}

var _ reader.PhotoDecoder = ContainerDecoder{}

//go:embed photos/*.simphoto
var photoFiles embed.FS

// Named test photos of the default deck (photos/LICENSE.md says where each
// picture comes from). `go test ./facematch -run TestSimDeckPhotos -update`
// makes them again from the shared faces.
const (
	// PhotoWebcamMan is the man of the demo camera's recording.
	PhotoWebcamMan = "webcam-man"
	// PhotoGraceHopper is a different person than the demo camera shows.
	PhotoGraceHopper = "grace-hopper"
)

// Deck cards of the demo (deck.toml): the demo citizen's card with the
// demo camera man's photo, a card whose photo is someone else, and a card
// whose photo the kiosk cannot decode while the authority's reference photo
// of its holder is someone else (sim/simstack imports it): needs_review.
const (
	DemoCitizenCard  = 7
	DemoStrangerCard = 8
	DemoReviewCard   = 9
)

// namedPhoto returns the container of a named test photo ("sim:NAME" in a
// deck).
func namedPhoto(spec string) ([]byte, error) {
	name := strings.TrimPrefix(spec, "sim:")
	b, err := photoFiles.ReadFile("photos/" + name + ".simphoto")
	if err != nil {
		return nil, fmt.Errorf("photo %q: no such test photo (use sim:%s or sim:%s)", spec, PhotoWebcamMan, PhotoGraceHopper)
	}
	if len(b) != idcard.PhotoLen {
		return nil, fmt.Errorf("photo %q: %d bytes, want %d", spec, len(b), idcard.PhotoLen)
	}
	return b, nil
}
