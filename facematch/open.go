package facematch

import (
	"eidkiosk/facemodel"
)

// Open loads fr_detect, fr_landmark and fr_feature from the models
// directory, each checked against its pinned SHA-256 (facemodel.Load). A
// missing or altered model is an error wrapping facemodel.ErrUnavailable
// that names the file and the fix.
func Open(q Quality) (*Matcher, error) {
	var ms [3][]byte
	for i, name := range []string{facemodel.Detect, facemodel.Landmark, facemodel.Feature} {
		b, err := facemodel.Load(name)
		if err != nil {
			return nil, err
		}
		ms[i] = b
	}
	return New(Models{Detect: ms[0], Landmark: ms[1], Feature: ms[2]}, q)
}
