#ifndef EIDKIOSK_CAMERA_THREADS_H
#define EIDKIOSK_CAMERA_THREADS_H
#ifdef __cplusplus
extern "C" {
#endif
void eidkiosk_cv_set_num_threads(int n);
int eidkiosk_cv_get_num_threads(void);
#ifdef __cplusplus
}
#endif
#endif
