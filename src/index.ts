/**
 * bkend-effect: an Effect-native SDK for bkend.
 *
 * @since 0.1.0
 */
export {}
