// Package camera delivers frames from a V4L2 device, a video file or a
// folder of images through one interface, with the semantics a kiosk needs:
// every frame carries a sequence number and a timestamp; a slow consumer
// always gets the latest frame and never a growing backlog; a camera that
// stops delivering (unplugged, driver hang) is reported as a fault and
// re-opened with exponential backoff, and reported back when it delivers
// again.
//
// Sources are opened through OpenCV's VideoCapture (gocv v0.31, V4L2 and
// FFmpeg back-ends; see https://docs.opencv.org/4.6.0/d8/dfe/classcv_1_1VideoCapture.html
// and the V4L2 API, https://www.kernel.org/doc/html/latest/userspace-api/media/v4l/v4l2.html).
// Frames are BGR gocv.Mat values; each Mat here has one owner: the Camera
// owns its buffers and copies into Mats that callers own and close.
//
// The package does not detect faces or judge image quality (kiosk/face), and
// it does not talk to V4L2 ioctls directly: controls beyond size, frame rate
// and MJPG selection are left to the device's defaults.
package camera
