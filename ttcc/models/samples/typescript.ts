export interface Event {
  id: string;
  name: string;
  startsAt: Date;
  durationMinutes: number;
  attendees: string[];
}

export type Filter = (event: Event) => boolean;

export class Calendar {
  private readonly events = new Map<string, Event>();

  add(event: Event): void {
    if (this.events.has(event.id)) {
      throw new Error(`event ${event.id} already exists`);
    }
    this.events.set(event.id, event);
  }

  remove(id: string): boolean {
    return this.events.delete(id);
  }

  find(filter: Filter): Event[] {
    return [...this.events.values()]
      .filter(filter)
      .sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime());
  }

  overlapping(event: Event): Event[] {
    const start = event.startsAt.getTime();
    const end = start + event.durationMinutes * 60_000;
    return this.find((other) => {
      if (other.id === event.id) {
        return false;
      }
      const otherStart = other.startsAt.getTime();
      const otherEnd = otherStart + other.durationMinutes * 60_000;
      return otherStart < end && start < otherEnd;
    });
  }
}

export const onDay =
  (day: Date): Filter =>
  (event) =>
    event.startsAt.toDateString() === day.toDateString();

export const withAttendee =
  (name: string): Filter =>
  (event) =>
    event.attendees.includes(name);

export function summarize(events: Event[]): Record<string, number> {
  const minutes: Record<string, number> = {};
  for (const event of events) {
    for (const attendee of event.attendees) {
      minutes[attendee] = (minutes[attendee] ?? 0) + event.durationMinutes;
    }
  }
  return minutes;
}

const calendar = new Calendar();
calendar.add({
  id: "standup",
  name: "Standup",
  startsAt: new Date(2024, 4, 1, 9, 0),
  durationMinutes: 15,
  attendees: ["ana", "ben"],
});
calendar.add({
  id: "review",
  name: "Design review",
  startsAt: new Date(2024, 4, 1, 9, 10),
  durationMinutes: 45,
  attendees: ["ana", "chris"],
});
console.log(summarize(calendar.find(withAttendee("ana"))));
