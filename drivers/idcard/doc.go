// Package idcard drives the security module (SAM) of a Chinese
// second-generation ID-card reader over a serial line, following the GA 467
// frame protocol (frames start AA AA AA 96 69; see
// ../shared/reference/idcard-reader-protocol.md).
//
// It decodes the resident ID card, the foreigner's permanent residence card
// (2017 and 2023 layouts) and the Hong Kong/Macau/Taiwan residence permit. It
// does not decode the WLT photo (only licensed vendor libraries can) and does
// not match fingerprints; both are kept raw.
package idcard
