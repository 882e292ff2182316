// What the cluster's parts need from Redis: one command at a time (RedisLink in the relay; a thin wrapper in tests).
export interface RedisCommands {
  cmd<T = unknown>(command: string, args: string[]): Promise<T>;
}
